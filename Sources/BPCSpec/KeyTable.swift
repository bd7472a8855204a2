/// The keys of one mapping of the format, each with the code that decodes its value.
///
/// A key is written once, in its entry: the list of valid keys (for "must be a mapping with
/// keys ..." and for suggestions), the unknown-key check, the missing-key check and the dispatch
/// all read the same entries, so a key cannot be known to the checks but decoded by another
/// key's code, or decoded but reported as unknown.
///
/// `Decode` is the handler's type: mappings read whole as a `YAMLNode` use `FieldTable`; the top
/// level, which streams `units` and `edges` from the event reader, has its own.
struct KeyTable<Decode: Sendable>: Sendable {
    struct Entry: Sendable {
        let key: String
        /// The error to report, given the key, when the mapping lacks the key; nil for an optional
        /// key. Required keys whose absence is not an error of its own stay nil and are checked by
        /// their mapping's decoder.
        let ifMissing: (@Sendable (_ key: String) -> String)?
        let decode: Decode

        init(_ key: String, ifMissing: (@Sendable (_ key: String) -> String)? = nil, _ decode: Decode) {
            self.key = key
            self.ifMissing = ifMissing
            self.decode = decode
        }
    }

    /// How messages name the mapping ("a unit", "train").
    let what: String
    let entries: [Entry]
    /// The entries' keys in order, kept apart so that a lookup compares strings without
    /// touching the handlers.
    let keys: [String]
    /// One bit per entry with `ifMissing`, so a mapping that has all its required keys (every
    /// edge of a million-edge spec) costs one comparison.
    private let required: UInt64

    /// `entries` must have distinct keys, at most 64 (a mapping's keys are a bit set);
    /// the tests check every table.
    init(_ what: String, _ entries: [Entry]) {
        self.what = what
        self.entries = entries
        keys = entries.map(\.key)
        var required: UInt64 = 0
        for (index, entry) in entries.enumerated() where entry.ifMissing != nil && index < 64 {
            required |= 1 << UInt64(index)
        }
        self.required = required
    }

    /// A linear scan: mappings have at most a dozen keys, and short strings compare by value.
    @inline(__always)
    func index(of key: String) -> Int? {
        keys.firstIndex(of: key)
    }

    /// The bit of entry `index` in a set of given keys.
    @inline(__always)
    static func bit(_ index: Int) -> UInt64 {
        index < 64 ? 1 << UInt64(index) : 0
    }

    /// For mappings inside the spec; the top level's message names no mapping and is its own.
    func unknownKeyMessage(_ key: String) -> String {
        "unknown key '\(key)' in \(what)\(suggestion(for: key, among: keys))"
    }

    /// The errors for required keys absent from `given`, in table order.
    func missingKeyMessages(given: UInt64) -> [String] {
        guard given & required != required else { return [] }
        var messages: [String] = []
        for (index, entry) in entries.enumerated() where given & Self.bit(index) == 0 {
            if let ifMissing = entry.ifMissing { messages.append(ifMissing(entry.key)) }
        }
        return messages
    }
}
