import BPCPlan
import BPCSpec

/// Incoming edges per declared unit, as a CSR table over creation-order edge indices.
struct FanIn {
    /// `edgesInto[start[u] ..< start[u + 1]]` are the created edges into declared unit u, in
    /// creation order.
    var start: [Int]
    var edgesInto: [Int32]

    /// A stable counting sort by target.
    init(edges: CreatedEdges, unitCount: Int) {
        var start = [Int](repeating: 0, count: unitCount + 1)
        for target in edges.targets { start[Int(target) + 1] += 1 }
        for unit in 0..<unitCount { start[unit + 1] += start[unit] }
        var cursor = start
        var edgesInto = [Int32](repeating: 0, count: edges.count)
        for edge in 0..<edges.count {
            let target = Int(edges.targets[edge])
            edgesInto[cursor[target]] = Int32(edge)
            cursor[target] += 1
        }
        self.start = start
        self.edgesInto = edgesInto
    }
}

/// A binary min-heap of declared unit indices, so ready units leave in declaration order.
private struct IndexHeap {
    private var items: [Int] = []

    var isEmpty: Bool { items.isEmpty }

    mutating func push(_ value: Int) {
        items.append(value)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child] < items[parent] else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Int? {
        guard let last = items.popLast() else { return nil }
        guard !items.isEmpty else { return last }
        let top = items[0]
        items[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            guard left < items.count else { break }
            var smallest = left
            if left + 1 < items.count, items[left + 1] < items[left] { smallest = left + 1 }
            guard items[smallest] < items[parent] else { break }
            items.swapAt(smallest, parent)
            parent = smallest
        }
        return top
    }
}

extension CompilerContext {
    /// Reports every (from, to) pair created twice, at the entry that repeats it.
    mutating func reportDuplicates(_ fanIn: FanIn) {
        var lastTarget = [Int32](repeating: -1, count: units.count)
        var firstEdge = [Int32](repeating: -1, count: units.count)
        for target in 0..<units.count {
            for slot in fanIn.start[target]..<fanIn.start[target + 1] {
                let edge = Int(fanIn.edgesInto[slot])
                let source = Int(edges.sources[edge])
                if lastTarget[source] == Int32(target) {
                    let first = spec.edges.position(of: edges.entry(of: Int(firstEdge[source])))
                    let entry = spec.edges.position(of: edges.entry(of: edge))
                    let place = first == entry ? "this entry creates it twice" : "first created at \(first)"
                    error("duplicate edge \(units.names[source])->\(units.names[target]) (\(place))", at: entry)
                } else {
                    lastTarget[source] = Int32(target)
                    firstEdge[source] = Int32(edge)
                }
            }
        }
    }

    /// Declared indices in topological order: inputs first, then Kahn's algorithm taking the
    /// earliest-declared ready unit. Nil (with the cycles reported) if the graph has a cycle.
    mutating func topologicalOrder(_ fanIn: FanIn) -> [Int]? {
        let n = units.count
        var remaining = [Int32](repeating: 0, count: n)
        for unit in 0..<n { remaining[unit] = Int32(fanIn.start[unit + 1] - fanIn.start[unit]) }
        let fanOut = FanOut(edges: edges, unitCount: n)
        var order: [Int] = []
        order.reserveCapacity(n)
        var ready = IndexHeap()
        for unit in 0..<n where units.roles[unit] == .input { order.append(unit) }
        for unit in 0..<n where units.roles[unit] != .input && remaining[unit] == 0 { ready.push(unit) }
        var cursor = 0
        while true {
            // Release the successors of every unit placed so far, then place the next ready one.
            while cursor < order.count {
                let unit = order[cursor]
                cursor += 1
                for slot in fanOut.start[unit]..<fanOut.start[unit + 1] {
                    let target = Int(edges.targets[Int(fanOut.edgesFrom[slot])])
                    remaining[target] -= 1
                    if remaining[target] == 0 { ready.push(target) }
                }
            }
            guard let next = ready.pop() else { break }
            order.append(next)
        }
        if order.count == n { return order }
        reportCycles(fanOut: fanOut, unplaced: remaining.map { $0 > 0 })
        return nil
    }

    /// Finds cycles among the units Kahn's algorithm could not place, with an iterative
    /// depth-first search; each back edge closes one cycle, reported with its units in order.
    private mutating func reportCycles(fanOut: FanOut, unplaced: [Bool]) {
        enum Mark: UInt8 { case new, onPath, done }
        var marks = [Mark](repeating: .new, count: units.count)
        var reported = 0
        let reportLimit = 10
        for root in 0..<units.count where unplaced[root] && marks[root] == .new {
            var path: [(unit: Int, slot: Int)] = [(root, fanOut.start[root])]
            marks[root] = .onPath
            while let top = path.last {
                guard top.slot < fanOut.start[top.unit + 1] else {
                    marks[top.unit] = .done
                    path.removeLast()
                    continue
                }
                path[path.count - 1].slot += 1
                let edge = Int(fanOut.edgesFrom[top.slot])
                let target = Int(edges.targets[edge])
                guard unplaced[target] else { continue }
                switch marks[target] {
                case .new:
                    marks[target] = .onPath
                    path.append((target, fanOut.start[target]))
                case .onPath:
                    if reported < reportLimit {
                        let start = path.firstIndex { $0.unit == target } ?? 0
                        let cycle = path[start...].map { units.names[$0.unit] } + [units.names[target]]
                        error("cycle: \(cycle.joined(separator: " -> ")); the network must be a DAG", at: spec.edges.position(of: edges.entry(of: edge)))
                    }
                    reported += 1
                case .done:
                    break
                }
            }
        }
        if reported > reportLimit, !spec.edges.isEmpty {
            error("\(reported - reportLimit) more cycles not shown", at: spec.edges.position(of: 0))
        }
    }
}

/// Outgoing edges per declared unit, as a CSR table over creation-order edge indices.
struct FanOut {
    var start: [Int]
    var edgesFrom: [Int32]

    init(edges: CreatedEdges, unitCount: Int) {
        var start = [Int](repeating: 0, count: unitCount + 1)
        for source in edges.sources { start[Int(source) + 1] += 1 }
        for unit in 0..<unitCount { start[unit + 1] += start[unit] }
        var cursor = start
        var edgesFrom = [Int32](repeating: 0, count: edges.count)
        for edge in 0..<edges.count {
            let source = Int(edges.sources[edge])
            edgesFrom[cursor[source]] = Int32(edge)
            cursor[source] += 1
        }
        self.start = start
        self.edgesFrom = edgesFrom
    }
}
