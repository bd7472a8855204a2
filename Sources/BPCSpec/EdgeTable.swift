/// The `edges` list of a spec as a table: one row per entry, in parallel arrays.
///
/// A large spec is millions of entries like `{from: "h[3]", to: "h[17]", weight: 0.25}`, and
/// the spec lives as long as the model compiled from it. As `[EdgeSpec]` each entry cost about
/// 112 bytes (two strings, four positions, enum payloads); a row here is 28: each side is the
/// index of an interned reference, the weight is inline, and the positions are the entry's
/// line and four columns. Only entries of other shapes use the side tables: lists of units,
/// weight lists, positions spread over several lines.
///
/// As a collection it yields `EdgeSpec` values, built on access, for code that reads a spec
/// entry by entry (the spec writer, `--save`); the compiler reads the rows through the
/// `package` accessors and resolves each distinct reference once instead of once per use.
public struct EdgeTable: Sendable, RandomAccessCollection {
    /// A side of an edge entry.
    @usableFromInline package enum Side: Sendable { case from, to }

    // The rows (inlinable: the compiler reads a million of them).
    /// Per row and side: a reference index (>= 0), or `~k` for `lists[k]`.
    @usableFromInline var from: [Int32] = []
    @usableFromInline var to: [Int32] = []
    /// Per row: the written weight; NaN when there is none or `otherWeights` holds it.
    @usableFromInline var weights: [Double] = []
    private var places: [Place] = []

    /// Unit names, each once; the distinct references, each a name and a member (`Int.min`: none).
    private var names: [String] = []
    private var nameIndex: [String: Int32] = [:]
    private var referenceNames: [Int32] = []
    private var referenceMembers: [Int] = []
    /// The index of each reference, by name: the name alone, and members below the array's
    /// length (-1: not referenced yet), so that a lookup is two array reads. A member array is
    /// at most twice as long as the name has references (plus 16), so sparse members cost no
    /// memory; the members beyond it are in `sparseReferenceIndex`.
    private var aloneReferenceIndex: [Int32] = []
    private var memberReferenceIndex: [[Int32]] = []
    private var referencesOfName: [Int] = []
    private var sparseReferenceIndex: [ReferenceKey: Int32] = [:]

    /// The side tables: lists of units, weights that are lists (or NaN, which marks "none"
    /// inline), and the positions of entries written over several lines.
    @usableFromInline var lists: [ReferenceList] = []
    @usableFromInline var otherWeights: [Int: WeightSpec] = [:]
    private var farPlaces: [Int: EntryPositions] = [:]

    public init() {}

    // MARK: Collection of EdgeSpec

    public var startIndex: Int { 0 }
    public var endIndex: Int { from.count }

    /// Entry `entry` as an `EdgeSpec` (its strings are the table's interned names, not copies).
    public subscript(entry: Int) -> EdgeSpec {
        func side(_ side: Side) -> UnitReferences {
            func reference(_ index: Int) -> UnitReference {
                let id = self.reference(index, side, of: entry)
                return UnitReference(name: referenceName(id), member: referenceMember(id), position: position(ofReference: index, side, of: entry))
            }
            let row = side == .from ? from[entry] : to[entry]
            return row >= 0 ? .one(reference(0)) : .many((0..<lists[Int(~row)].ids.count).map(reference))
        }
        let weight = self.weight(of: entry).map { Located($0, at: weightPosition(of: entry) ?? position(of: entry)) }
        return EdgeSpec(from: side(.from), to: side(.to), weight: weight, position: position(of: entry))
    }

    public mutating func append(_ edge: EdgeSpec) {
        func side(_ references: UnitReferences) -> (row: Int32, position: SourcePosition?) {
            switch references {
            case .one(let reference):
                return (internReference(name: internName(reference.name), member: reference.member), reference.position)
            case .many(let list):
                let ids = list.map { internReference(name: internName($0.name), member: $0.member) }
                lists.append(ReferenceList(ids: ids, positions: list.map(\.position)))
                return (~Int32(lists.count - 1), nil)
            }
        }
        let (fromRow, fromPosition) = side(edge.from)
        let (toRow, toPosition) = side(edge.to)
        appendRow(from: fromRow, to: toRow, weight: edge.weight?.value,
                  positions: EntryPositions(entry: edge.position, from: fromPosition, to: toPosition, weight: edge.weight?.position))
    }

    /// Replaces an entry's weight (or removes it), keeping everything else.
    public mutating func setWeight(_ weight: Located<WeightSpec>?, of entry: Int) {
        storeWeight(weight?.value, row: entry)
        var positions = positions(of: entry)
        positions.weight = weight?.position
        storePositions(positions, row: entry)
    }

    // MARK: Rows, for the compiler

    /// How many distinct references the entries make (`h` and `h[3]` are two).
    package var referenceCount: Int { referenceNames.count }

    package func referenceName(_ id: Int32) -> String { names[Int(referenceNames[Int(id)])] }

    package func referenceMember(_ id: Int32) -> Int? {
        let member = referenceMembers[Int(id)]
        return member == .min ? nil : member
    }

    /// How many references one side of an entry lists (1 unless it is a list).
    @inlinable package func referenceCount(_ side: Side, of entry: Int) -> Int {
        let row = side == .from ? from[entry] : to[entry]
        return row >= 0 ? 1 : lists[Int(~row)].ids.count
    }

    /// The `index`th reference of a side of an entry.
    @inlinable package func reference(_ index: Int, _ side: Side, of entry: Int) -> Int32 {
        let row = side == .from ? from[entry] : to[entry]
        return row >= 0 ? row : lists[Int(~row)].ids[index]
    }

    package func position(ofReference index: Int, _ side: Side, of entry: Int) -> SourcePosition {
        let row = side == .from ? from[entry] : to[entry]
        if row < 0 { return lists[Int(~row)].positions[index] }
        let positions = positions(of: entry)
        return (side == .from ? positions.from : positions.to) ?? positions.entry
    }

    /// Where the entry (its mapping) starts.
    package func position(of entry: Int) -> SourcePosition {
        let place = places[entry]
        if place.column == 0, let far = farPlaces[entry] { return far.entry }
        return SourcePosition(line: Int(place.line), column: Int(place.column))
    }

    @inlinable package func weight(of entry: Int) -> WeightSpec? {
        let weight = weights[entry]
        return weight.isNaN ? otherWeights[entry] : .value(weight)
    }

    package func weightPosition(of entry: Int) -> SourcePosition? { positions(of: entry).weight }

    // MARK: Building, for the parser

    /// The index of a unit name, added if new.
    mutating func internName(_ name: String) -> Int32 {
        if let index = nameIndex[name] { return index }
        names.append(name)
        nameIndex[name] = Int32(names.count - 1)
        aloneReferenceIndex.append(-1)
        memberReferenceIndex.append([])
        referencesOfName.append(0)
        return Int32(names.count - 1)
    }

    /// The index of the reference `name` or `name[member]` (`name` from `internName`), added if new.
    mutating func internReference(name: Int32, member: Int?) -> Int32 {
        let name = Int(name)
        if let member {
            if member >= 0, member < memberReferenceIndex[name].count, memberReferenceIndex[name][member] >= 0 {
                return memberReferenceIndex[name][member]
            }
            // Added when the member array did not reach it (it may have grown over it since).
            if let index = sparseReferenceIndex[ReferenceKey(name: Int32(name), member: member)] { return index }
        } else if aloneReferenceIndex[name] >= 0 {
            return aloneReferenceIndex[name]
        }
        let index = Int32(referenceNames.count)
        referenceNames.append(Int32(name))
        referenceMembers.append(member ?? .min)
        referencesOfName[name] += 1
        guard let member else {
            aloneReferenceIndex[name] = index
            return index
        }
        let limit = 2 * referencesOfName[name] + 16
        if member >= 0, member < limit {
            let length = memberReferenceIndex[name].count
            if member >= length {
                memberReferenceIndex[name].append(contentsOf: repeatElement(-1, count: Swift.min(Swift.max(member + 1, 2 * length), limit) - length))
            }
            memberReferenceIndex[name][member] = index
        } else {
            sparseReferenceIndex[ReferenceKey(name: Int32(name), member: member)] = index
        }
        return index
    }

    /// Appends an entry whose sides are single references (`from` and `to` from
    /// `internReference`) or lists already stored.
    mutating func appendRow(from fromRow: Int32, to toRow: Int32, weight: WeightSpec?, positions: EntryPositions) {
        let row = from.count
        from.append(fromRow)
        to.append(toRow)
        let inline = Self.inline(weight)
        weights.append(inline)
        if inline.isNaN, let weight { otherWeights[row] = weight }
        let place = Place(positions)
        places.append(place ?? .far)
        if place == nil { farPlaces[row] = positions }
    }

    /// The weight as stored in the row: the value, or NaN for none, a list, or NaN itself
    /// (the last two go to `otherWeights`).
    private static func inline(_ weight: WeightSpec?) -> Double {
        if case .value(let value)? = weight { return value }
        return .nan
    }

    private mutating func storeWeight(_ weight: WeightSpec?, row: Int) {
        let inline = Self.inline(weight)
        weights[row] = inline
        otherWeights[row] = inline.isNaN ? weight : nil
    }

    private mutating func storePositions(_ positions: EntryPositions, row: Int) {
        let place = Place(positions)
        places[row] = place ?? .far
        farPlaces[row] = place == nil ? positions : nil
    }

    private func positions(of entry: Int) -> EntryPositions {
        let place = places[entry]
        if place.column == 0, let far = farPlaces[entry] { return far }
        func at(_ column: UInt16) -> SourcePosition? {
            column == 0 ? nil : SourcePosition(line: Int(place.line), column: Int(column))
        }
        return EntryPositions(
            entry: SourcePosition(line: Int(place.line), column: Int(place.column)),
            from: at(place.from), to: at(place.to), weight: at(place.weight))
    }
}

/// Where an entry and its parts are written. A side that is a list has no position of its
/// own here (each of its references has one); a missing weight has none.
struct EntryPositions: Sendable {
    var entry: SourcePosition
    var from: SourcePosition?
    var to: SourcePosition?
    var weight: SourcePosition?
}

/// An entry's positions in 12 bytes: its line and the columns of the entry and of its parts,
/// all on that line (a column of 0: the part has no position). `column == 0` marks an entry
/// whose positions did not fit and are in `farPlaces`.
private struct Place: Sendable {
    var line: Int32
    var column: UInt16
    var from: UInt16
    var to: UInt16
    var weight: UInt16

    static let far = Place(line: 0, column: 0, from: 0, to: 0, weight: 0)
}

extension Place {
    /// Nil unless every position is on the entry's line with a column of 1 ... 65535.
    init?(_ positions: EntryPositions) {
        let line = positions.entry.line
        func column(_ position: SourcePosition) -> UInt16? {
            guard position.line == line, position.column >= 1, position.column <= Int32(UInt16.max) else { return nil }
            return UInt16(position.column)
        }
        func part(_ position: SourcePosition?) -> UInt16? {
            guard let position else { return 0 }
            return column(position)
        }
        guard let entry = column(positions.entry), let from = part(positions.from), let to = part(positions.to),
              let weight = part(positions.weight) else { return nil }
        self.init(line: line, column: entry, from: from, to: to, weight: weight)
    }
}

@usableFromInline struct ReferenceList: Sendable {
    @usableFromInline var ids: [Int32]
    var positions: [SourcePosition]
}

private struct ReferenceKey: Hashable, Sendable {
    var name: Int32
    var member: Int
}
