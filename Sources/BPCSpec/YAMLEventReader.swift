import CYAML

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Thrown when reading cannot go on (a YAML syntax error or a limit); the reason is already in
/// the diagnostic log.
public struct ParseAborted: Error, Sendable {}

/// One libyaml parser event with its start and end positions.
struct YAMLEvent {
    enum Kind: Equatable {
        case streamStart, streamEnd, documentStart, documentEnd
        case scalar, sequenceStart, sequenceEnd, mappingStart, mappingEnd
    }

    var kind: Kind
    var start: SourcePosition
    var end: SourcePosition
    /// The scalar's text; empty for other events.
    var value: String = ""
    /// True when the scalar was quoted or a block literal: such text is always a string.
    var isQuoted = false
    /// The scalar's core-schema tag (`str`, `int`, `float`, `bool`, `null`) when one was written.
    var tag: String?
}

/// A libyaml event held as libyaml made it, not converted to a `YAMLEvent`: the scalar's bytes
/// are libyaml's own, valid until the event is dropped or released (`YAMLEventReader.hold()`).
struct HeldEvent {
    var kind: YAMLEvent.Kind?
    var start: SourcePosition
    var bytes: UnsafeBufferPointer<UInt8>
    /// A scalar written without quotes.
    var isPlain: Bool
    /// A scalar as plain data needs it: no tag, no anchor, within the length limit. Anything
    /// else is for the conversion to report.
    var isBare: Bool
}

/// A pull reader over libyaml's event API that enforces bpc's YAML subset as it streams.
///
/// Anchors, aliases and tags other than the core schema's are rejected at the event (a spec is
/// plain data), nesting depth and scalar length are capped before the builder sees them, and
/// only one document is allowed. Nothing here builds a tree, so large specs stream.
///
/// Events can also be held unconverted (`hold`), so that a caller can read a common shape of
/// entry straight from libyaml's buffers and, if the entry turns out to be anything else,
/// release the events to be read again as `YAMLEvent`s, with every check and report exactly
/// as if they had been read that way in the first place.
final class YAMLEventReader {
    private let parser: UnsafeMutablePointer<yaml_parser_t>
    private var file: UnsafeMutablePointer<FILE>?
    private var bytes: UnsafeMutableBufferPointer<UInt8>?
    private let limits: Limits
    let path: String
    // Unchecked: the reader's methods run seven times per edge entry, and the run-time
    // exclusivity check of a class property cost as much as the rest of `hold`. Only the
    // reader's own methods touch these, one at a time, and none calls out while it does.
    @exclusivity(unchecked) private(set) var depth = 0
    /// Events read but not yet consumed (peeked or released), the next one last.
    @exclusivity(unchecked) private var pending: [YAMLEvent] = []
    /// Events held unconverted, in reading order.
    private let held: UnsafeMutablePointer<yaml_event_t>
    @exclusivity(unchecked) private(set) var heldCount = 0
    /// The most events `hold` keeps at once: an edge entry of three keys and its end.
    static let heldCapacity = 8
    var log: DiagnosticLog

    /// Reads from a file, which must be a regular file no larger than `limits.maxFileSize`;
    /// otherwise the problem goes into `log` and there is no reader.
    init?(path: String, limits: Limits, log: inout DiagnosticLog) {
        guard let handle = openRegularFile(path, maxSize: limits.maxFileSize, log: &log) else { return nil }
        self.path = path
        self.limits = limits
        self.log = log
        parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        held = UnsafeMutablePointer<yaml_event_t>.allocate(capacity: Self.heldCapacity)
        yaml_parser_initialize(parser)
        file = handle
        yaml_parser_set_input_file(parser, handle)
    }

    /// Reads from text in memory; `path` is used only in diagnostics.
    init(text: String, path: String, limits: Limits, log: DiagnosticLog) {
        self.path = path
        self.limits = limits
        self.log = log
        parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        held = UnsafeMutablePointer<yaml_event_t>.allocate(capacity: Self.heldCapacity)
        yaml_parser_initialize(parser)
        let utf8 = Array(text.utf8)
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(1, utf8.count))
        _ = buffer.initialize(from: utf8)
        bytes = buffer
        yaml_parser_set_input_string(parser, buffer.baseAddress, utf8.count)
    }

    deinit {
        for index in 0..<heldCount { yaml_event_delete(held + index) }
        held.deallocate()
        yaml_parser_delete(parser)
        parser.deallocate()
        if let file { fclose(file) }
        bytes?.deallocate()
    }

    func error(_ message: String, at position: SourcePosition?) {
        log.error(message, in: path, at: position)
    }

    func peek() throws(ParseAborted) -> YAMLEvent {
        if let event = pending.last { return event }
        let event = try read()
        pending.append(event)
        return event
    }

    func next() throws(ParseAborted) -> YAMLEvent {
        try peekedOrRead()
    }

    /// The next event if it starts a mapping, consumed; otherwise nil, with the event left to
    /// `peek` and `next`. What `peek` then `next` would do, without storing the event between.
    func nextMappingStart() throws(ParseAborted) -> YAMLEvent? {
        let event = try peekedOrRead()
        if event.kind == .mappingStart { return event }
        pending.append(event)
        return nil
    }

    private func peekedOrRead() throws(ParseAborted) -> YAMLEvent {
        if let event = pending.popLast() { return event }
        return try read()
    }

    private func read() throws(ParseAborted) -> YAMLEvent {
        var event = yaml_event_t()
        try parse(into: &event)
        return try convert(&event)
    }

    /// The next event from libyaml; a syntax error is reported and ends reading.
    private func parse(into event: UnsafeMutablePointer<yaml_event_t>) throws(ParseAborted) {
        guard yaml_parser_parse(parser, event) == 1 else {
            reportSyntaxError()
            throw ParseAborted()
        }
    }

    // MARK: Held events

    /// Reads the next event and holds it unconverted. Only with nothing pending (peeked or
    /// released) and fewer than `heldCapacity` events held; the caller ends a run of holds with
    /// `dropHeld` (the events are consumed) or `releaseHeld` (they will be read again).
    func hold() throws(ParseAborted) -> HeldEvent {
        precondition(pending.isEmpty && heldCount < Self.heldCapacity, "hold: events pending or too many held")
        let event = held + heldCount
        try parse(into: event)
        heldCount += 1
        let start = position(event.pointee.start_mark)
        switch event.pointee.type {
        case YAML_SCALAR_EVENT:
            let scalar = event.pointee.data.scalar
            let plain = scalar.style == YAML_PLAIN_SCALAR_STYLE || scalar.style == YAML_ANY_SCALAR_STYLE
            let bare = scalar.tag == nil && scalar.anchor == nil && scalar.length <= limits.maxScalarLength
            return HeldEvent(kind: .scalar, start: start, bytes: UnsafeBufferPointer(start: scalar.value, count: scalar.length),
                             isPlain: plain, isBare: bare)
        case YAML_MAPPING_END_EVENT:
            return HeldEvent(kind: .mappingEnd, start: start, bytes: UnsafeBufferPointer(start: nil, count: 0), isPlain: false, isBare: true)
        default:
            // Whatever it is, the caller releases it for the conversion to handle.
            return HeldEvent(kind: nil, start: start, bytes: UnsafeBufferPointer(start: nil, count: 0), isPlain: false, isBare: false)
        }
    }

    /// Consumes the held events, which must be bare scalars and mapping ends: nothing in them
    /// needs reporting, and an end closes its depth.
    func dropHeld() {
        for index in 0..<heldCount {
            let event = held + index
            switch event.pointee.type {
            case YAML_MAPPING_END_EVENT: depth -= 1
            case YAML_SCALAR_EVENT: break
            default: assertionFailure("dropHeld: a held event that needs converting")
            }
            yaml_event_delete(event)
        }
        heldCount = 0
    }

    /// Puts `first` and then the held events, converted in reading order (reporting what their
    /// conversion reports), back to be read again by `next`.
    func releaseHeld(after first: YAMLEvent) throws(ParseAborted) {
        var events = [first]
        var index = 0
        // If a conversion ends reading, the events not yet converted are still deleted.
        defer {
            for rest in index..<heldCount { yaml_event_delete(held + rest) }
            heldCount = 0
        }
        while index < heldCount {
            let event = held + index
            index += 1
            events.append(try convert(event))
        }
        pending = events.reversed()
    }

    // MARK: Conversion

    /// Converts a libyaml event, with every check of bpc's YAML subset, and deletes it.
    private func convert(_ raw: UnsafeMutablePointer<yaml_event_t>) throws(ParseAborted) -> YAMLEvent {
        defer { yaml_event_delete(raw) }
        let event = raw.pointee
        let start = position(event.start_mark)
        let end = position(event.end_mark)
        switch event.type {
        case YAML_STREAM_START_EVENT:
            return YAMLEvent(kind: .streamStart, start: start, end: end)
        case YAML_STREAM_END_EVENT:
            return YAMLEvent(kind: .streamEnd, start: start, end: end)
        case YAML_DOCUMENT_START_EVENT:
            return YAMLEvent(kind: .documentStart, start: start, end: end)
        case YAML_DOCUMENT_END_EVENT:
            return YAMLEvent(kind: .documentEnd, start: start, end: end)
        case YAML_ALIAS_EVENT:
            let name = event.data.alias.anchor.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) } ?? ""
            error("aliases (*\(name)) are not allowed in a spec; write the value out", at: start)
            // Reading on would report the missing value again as a wrong one.
            throw ParseAborted()
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            rejectAnchor(scalar.anchor, at: start)
            let tag = coreTag(scalar.tag, at: start)
            guard scalar.length <= limits.maxScalarLength else {
                error("a scalar of \(scalar.length) bytes; \(Limits.advice(limits.maxScalarLength, .maxScalarLength))", at: start)
                throw ParseAborted()
            }
            let text = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
            let quoted = scalar.style != YAML_PLAIN_SCALAR_STYLE && scalar.style != YAML_ANY_SCALAR_STYLE
            return YAMLEvent(kind: .scalar, start: start, end: end, value: text, isQuoted: quoted, tag: tag)
        case YAML_SEQUENCE_START_EVENT:
            rejectAnchor(event.data.sequence_start.anchor, at: start)
            if let tag = coreTag(event.data.sequence_start.tag, at: start), tag != "seq" {
                error("tag !!\(tag) does not fit a list", at: start)
            }
            try enter(at: start)
            return YAMLEvent(kind: .sequenceStart, start: start, end: end)
        case YAML_MAPPING_START_EVENT:
            rejectAnchor(event.data.mapping_start.anchor, at: start)
            if let tag = coreTag(event.data.mapping_start.tag, at: start), tag != "map" {
                error("tag !!\(tag) does not fit a mapping", at: start)
            }
            try enter(at: start)
            return YAMLEvent(kind: .mappingStart, start: start, end: end)
        case YAML_SEQUENCE_END_EVENT:
            depth -= 1
            return YAMLEvent(kind: .sequenceEnd, start: start, end: end)
        case YAML_MAPPING_END_EVENT:
            depth -= 1
            return YAMLEvent(kind: .mappingEnd, start: start, end: end)
        default:
            error("unexpected YAML event", at: start)
            throw ParseAborted()
        }
    }

    private func enter(at position: SourcePosition) throws(ParseAborted) {
        depth += 1
        if depth > limits.maxDepth {
            error("collections nested more than \(limits.maxDepth) deep; \(Limits.advice(limits.maxDepth, .maxDepth))", at: position)
            throw ParseAborted()
        }
    }

    /// Line and column of a byte offset, counted from the input itself (UTF-8 lead bytes are
    /// characters), for errors that libyaml reports as an offset.
    private func position(ofByte offset: Int) -> SourcePosition {
        var line = 1, column = 1
        func advance(_ byte: UInt8) {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        if let bytes {
            for byte in bytes.prefix(offset) { advance(byte) }
        } else if let copy = fopen(path, "rb") {
            defer { fclose(copy) }
            var remaining = offset
            while remaining > 0 {
                let byte = fgetc(copy)
                if byte < 0 { break }
                advance(UInt8(byte))
                remaining -= 1
            }
        }
        return SourcePosition(line: line, column: column)
    }

    private func position(_ mark: yaml_mark_t) -> SourcePosition {
        SourcePosition(line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }

    private func rejectAnchor(_ anchor: UnsafeMutablePointer<yaml_char_t>?, at position: SourcePosition) {
        if let anchor {
            let name = String(cString: UnsafeRawPointer(anchor).assumingMemoryBound(to: CChar.self))
            error("anchors (&\(name)) are not allowed in a spec; it is plain data", at: position)
        }
    }

    /// The short name of a core-schema tag, or nil when none was written; other tags are errors.
    private func coreTag(_ tag: UnsafeMutablePointer<yaml_char_t>?, at position: SourcePosition) -> String? {
        guard let tag else { return nil }
        let text = String(cString: UnsafeRawPointer(tag).assumingMemoryBound(to: CChar.self))
        let prefix = "tag:yaml.org,2002:"
        if text.hasPrefix(prefix) {
            let name = String(text.dropFirst(prefix.count))
            if ["str", "int", "float", "bool", "null", "seq", "map"].contains(name) { return name }
        }
        if text == "!" { return nil }
        let written = text.hasPrefix(prefix) ? "!!" + text.dropFirst(prefix.count) : text
        error("tag \(written) is not allowed in a spec; only plain data (!!str, !!int, !!float, !!bool, !!null)", at: position)
        return nil
    }

    private func reportSyntaxError() {
        let problem = parser.pointee.problem.map { String(cString: $0) } ?? "invalid YAML"
        var message = "YAML: \(problem)"
        if let context = parser.pointee.context.map({ String(cString: $0) }) {
            let at = position(parser.pointee.context_mark)
            message += " (\(context) at \(at.line):\(at.column))"
        }
        if parser.pointee.error == YAML_READER_ERROR {
            // Reader errors (bad encoding) carry a byte offset, not a mark.
            let offset = Int(parser.pointee.problem_offset)
            error("YAML: \(problem) at byte \(offset)", at: position(ofByte: offset))
            return
        }
        if problem.contains("did not find expected ',' or") {
            message += "; inside {...} or [...], quote a member like \"h[1]\""
        }
        error(message, at: position(parser.pointee.problem_mark))
    }
}

/// Opens a file for reading after checking that it is a regular file within `maxSize` bytes
/// (a directory or a device would otherwise hang or fail deep inside a reader).
public func openRegularFile(_ path: String, maxSize: Int, log: inout DiagnosticLog) -> UnsafeMutablePointer<FILE>? {
    var status = stat()
    guard stat(path, &status) == 0 else {
        log.error("cannot read the file: \(String(cString: strerror(errno)))", in: path, at: nil)
        return nil
    }
    guard (status.st_mode & S_IFMT) == S_IFREG else {
        log.error("not a regular file", in: path, at: nil)
        return nil
    }
    guard Int(status.st_size) <= maxSize else {
        log.error("the file has \(status.st_size) bytes; \(Limits.advice(maxSize, .maxFileSize))", in: path, at: nil)
        return nil
    }
    guard let handle = fopen(path, "rb") else {
        log.error("cannot read the file: \(String(cString: strerror(errno)))", in: path, at: nil)
        return nil
    }
    return handle
}

/// The whole content of a regular file of at most `maxSize` bytes, or nil with the problem logged.
public func readRegularFile(_ path: String, maxSize: Int, log: inout DiagnosticLog) -> [UInt8]? {
    guard let file = openRegularFile(path, maxSize: maxSize, log: &log) else { return nil }
    defer { fclose(file) }
    // One read of the size the file has (data files run to gigabytes, and growing an array
    // chunk by chunk copies it again and again), then chunks for whatever it grew by since.
    var status = stat()
    let size = fstat(fileno(file), &status) == 0 ? max(0, Int(status.st_size)) : 0
    var bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
        count = buffer.baseAddress.map { fread($0, 1, size, file) } ?? 0
    }
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let read = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
        if read <= 0 { break }
        bytes += chunk[0..<read]
    }
    if ferror(file) != 0 {
        log.error("cannot read the file: \(String(cString: strerror(errno)))", in: path, at: nil)
        return nil
    }
    return bytes
}
