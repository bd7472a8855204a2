/// Bounds that keep a hostile or mistaken spec from exhausting the process.
///
/// Each one is checked while the spec streams in (or, for edges, before the edges that groups
/// would create are created), and exceeding one is an error naming the limit and the
/// command-line option that raises it.
public struct Limits: Sendable, Equatable {
    /// Deepest nesting of YAML collections. libyaml 0.2.5 has no limit of its own and is
    /// quadratic on deep flow nesting; bpc specs need about 5 levels.
    public var maxDepth = 64
    /// Largest spec file in bytes: 1 GiB admits 10^7 explicit edges (about 500 MB).
    public var maxFileSize = 1 << 30
    /// Longest scalar in bytes (a name, a number, a path).
    public var maxScalarLength = 1 << 16
    /// Most units after groups are expanded.
    public var maxUnits = 10_000_000
    /// Most edges, counting those that group-to-group entries would create.
    public var maxEdges = 50_000_000

    public init() {}

    /// The command-line option that raises each limit, for error messages.
    public enum Option: String, Sendable {
        case maxDepth = "--max-depth"
        case maxFileSize = "--max-file-size"
        case maxScalarLength = "--max-scalar-length"
        case maxUnits = "--max-units"
        case maxEdges = "--max-edges"
    }

    /// "the limit is N (raise it with --max-...)" for a message that names the limit.
    public static func advice(_ value: Int, _ option: Option) -> String {
        "the limit is \(value); raise it with \(option.rawValue)"
    }
}
