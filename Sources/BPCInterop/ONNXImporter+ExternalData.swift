import BPCSpec
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads the bytes of a tensor kept outside the model (`data_location: EXTERNAL`), as
/// PyTorch's default exporter writes weights over a few hundred bytes into `model.onnx.data`.
///
/// The model file is untrusted input, and its `external_data` names a file to read, so only a
/// file inside the model's folder is read: an absolute location, a `..` component or a path
/// (symbolic links included, resolved with realpath) that ends outside the folder is refused,
/// as is anything but a regular file (a FIFO would block, a device never end). The offset and
/// length are checked against the file's size and the tensor's byte size before anything is
/// allocated, and only those bytes are read, so a hostile length cannot make the reader
/// allocate more than the file holds.
enum ONNXExternalData {
    /// What a tensor's `external_data` entries say. `checksum` is ignored (ONNX defines it as
    /// an optional SHA-1 that no reader is required to check).
    struct Reference {
        var location: String
        var offset: Int
        var length: Int?
    }

    /// The `byteCount` bytes `proto` keeps in its external file; `origin` names the tensor and
    /// `node` the node using it in every message, together with the data file. `budget`, when
    /// given, is charged before anything is allocated.
    static func read(_ proto: Onnx_TensorProto, origin: String, byteCount: Int, type: String, dims: [Int],
                     node: ONNXNode, budget: ONNXExternalBudget?) throws(ImportFailure) -> [UInt8] {
        let reference = try self.reference(proto, origin: origin, node: node)
        let location = reference.location
        let what = "\(origin) keeps its data in '\(location)' (external data)"
        if let length = reference.length, length != byteCount {
            throw node.fail("\(what) with the length \(length), but its dims \(dims) of \(type) are \(byteCount) bytes")
        }
        let file = try resolve(location, what: what, node: node)
        let descriptor = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else {
            throw node.fail("\(what), which cannot be opened (\(String(cString: strerror(errno))))")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
            throw node.fail("\(what), which is not a regular file")
        }
        let size = Int(status.st_size)
        guard reference.offset <= size else {
            throw node.fail("\(what) at the offset \(reference.offset), beyond the end of the file (\(size) bytes)")
        }
        guard byteCount <= size - reference.offset else {
            throw node.fail("\(what): its dims \(dims) of \(type) need \(byteCount) bytes from the offset \(reference.offset), but the file has \(size - reference.offset) there (\(size) bytes)")
        }
        try budget?.spend(byteCount, on: origin, what: what, node: node)
        var failure: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: byteCount) { buffer, initialized in
            initialized = 0
            while initialized < byteCount, let base = buffer.baseAddress {
                let got = pread(descriptor, base + initialized, byteCount - initialized, off_t(reference.offset + initialized))
                if got < 0 && errno == EINTR { continue }
                guard got > 0 else {
                    failure = got < 0 ? errno : EIO
                    break
                }
                initialized += got
            }
        }
        guard bytes.count == byteCount else {
            throw node.fail("\(what), which could not be read (\(String(cString: strerror(failure))))")
        }
        return bytes
    }

    /// The entries `location` (required), `offset` and `length` (decimal, non-negative).
    static func reference(_ proto: Onnx_TensorProto, origin: String, node: ONNXNode) throws(ImportFailure) -> Reference {
        var entries: [String: String] = [:]
        for entry in proto.externalData {
            guard entries[entry.key] == nil else {
                throw node.fail("\(origin) has external data with the key '\(entry.key)' twice")
            }
            entries[entry.key] = entry.value
        }
        guard let location = entries["location"], !location.isEmpty else {
            // Nothing names the file: the message bpc gave before it read external data.
            throw node.fail("\(origin) keeps its data in 'another file' (external data); bpc reads self-contained models: onnx.load the model and onnx.save it with save_as_external_data=False")
        }
        if let unknown = entries.keys.sorted().first(where: { !["location", "offset", "length", "checksum"].contains($0) }) {
            throw node.fail("\(origin) keeps its data in '\(location)' (external data) with the key '\(unknown)', which bpc does not know (ONNX defines location, offset, length and checksum)")
        }
        func number(_ key: String) throws(ImportFailure) -> Int? {
            guard let text = entries[key] else { return nil }
            guard !text.isEmpty, text.count <= 18, TextChecks.allDigits(text.utf8),
                  let value = Int(text) else {
                throw node.fail("\(origin) keeps its data in '\(location)' (external data) with the \(key) '\(text)', which is not a byte count")
            }
            return value
        }
        return Reference(location: location, offset: try number("offset") ?? 0, length: try number("length"))
    }

    /// The real path of `location` inside the model's folder (the folder of `node.file`).
    static func resolve(_ location: String, what: String, node: ONNXNode) throws(ImportFailure) -> String {
        let inside = "bpc reads external data only from files in the model's folder"
        guard !location.utf8.contains(0) else { throw node.fail("\(what), a name with a NUL byte; \(inside)") }
        let scalars = Array(location.unicodeScalars)
        let drive = scalars.count >= 2 && scalars[1] == ":" && scalars[0].properties.isAlphabetic
        guard !location.hasPrefix("/"), !location.hasPrefix("\\"), !drive else {
            throw node.fail("\(what), an absolute path; \(inside)")
        }
        let components = location.split(whereSeparator: { $0 == "/" || $0 == "\\" })
        guard !components.contains("..") else {
            throw node.fail("\(what), a path that leaves the model's folder ('..'); \(inside)")
        }
        let parent = (node.file as NSString).deletingLastPathComponent
        let folder = parent.isEmpty ? "." : parent
        guard let realFolder = realPath(folder) else {
            throw node.fail("\(what), but the model's folder '\(folder)' cannot be resolved")
        }
        let joined = folder + "/" + components.joined(separator: "/")
        guard let real = realPath(joined) else {
            throw node.fail("\(what), which is not found next to the model (in '\(folder)'): put the data file beside the model, or onnx.load the model and onnx.save it with save_as_external_data=False")
        }
        let prefix = realFolder.hasSuffix("/") ? realFolder : realFolder + "/"
        guard real.hasPrefix(prefix), real.count > prefix.count else {
            throw node.fail("\(what), which resolves to '\(real)', outside the model's folder (through a symbolic link); \(inside)")
        }
        return real
    }

    /// realpath(3): the absolute path without `.`, `..` or symbolic links, nil if it fails.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// The bytes of external data an import may read, `Limits.maxFileSize` in all: the model file
/// itself is bounded by that limit, and its data files, which it only names, must be too, or a
/// small model could make the importer read (and hold) a file of any size.
///
/// A class, so that the reader's non-mutating lookups can charge it; each tensor is charged
/// once, however many nodes (or probes) decode it.
final class ONNXExternalBudget {
    let limit: Int
    private(set) var spent = 0
    private var charged: Set<String> = []

    init(limit: Int) {
        self.limit = limit
    }

    /// Charges `byteCount` bytes for the tensor `origin` (unless it was charged before), or
    /// refuses them when the total would pass the limit; `what` names the tensor and its file.
    func spend(_ byteCount: Int, on origin: String, what: String, node: ONNXNode) throws(ImportFailure) {
        guard !charged.contains(origin) else { return }
        guard byteCount <= limit - spent else {
            let earlier = spent > 0 ? " (with the \(spent) bytes of external data read before it)" : ""
            throw node.fail("\(what): its \(byteCount) bytes\(earlier) are more external data than bpc reads; \(Limits.advice(limit, .maxFileSize))")
        }
        spent += byteCount
        charged.insert(origin)
    }
}
