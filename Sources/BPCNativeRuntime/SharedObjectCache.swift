#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import BPCPlan

/// Why the native runtime cannot run here; the message says what to do about it.
public enum NativeUnavailable: Error, Sendable, Equatable, CustomStringConvertible {
    /// No C compiler on the PATH (nor in `BPC_CC`), or `BPC_CC` is empty: native runs off.
    case noCompiler
    /// The compiler failed on the generated code; `log` is the end of what it printed.
    case compileFailed(compiler: String, log: String)
    /// The compiled library would not load or lacks the training function.
    case loadFailed(String)
    /// The plan or its settings need what the generated step does not do.
    case unsupported(String)

    public var description: String {
        switch self {
        case .noCompiler:
            return "no C compiler found (looked for clang, cc and gcc on the PATH; BPC_CC names one)"
        case .compileFailed(let compiler, let log):
            return "\(compiler) failed on the generated code\(log.isEmpty ? "" : ":\n\(log)")"
        case .loadFailed(let reason):
            return "the compiled network would not load: \(reason)"
        case .unsupported(let reason):
            return reason
        }
    }
}

/// C source compiled once into a shared object and kept, named by a hash of everything that
/// decides its contents: the source, the compiler (its path, size and modification time, so
/// an upgraded compiler builds anew) and the flags. A second run of the same network loads
/// the object without compiling.
///
/// The cache lives in `$BPC_CACHE_DIR`, else `$XDG_CACHE_HOME/bpc/native`, else
/// `~/.cache/bpc/native`. An object is compiled to a temporary name and renamed into place, so
/// concurrent runs and killed compilers never leave a half-written object under a final name.
/// Without a writable cache the object is built in a temporary directory and deleted once
/// loaded.
struct SharedObjectCache {
    /// Flags chosen by measurement (benchmarks/RESULTS.md, W1): -O2 is as fast as -O3 on
    /// straight-line code; -fno-math-errno lets the compiler share the one exp that a sigmoid
    /// and its loss both need. On an x86-64 CPU with FMA (`fusedMultiplyAdd`) products and
    /// sums fuse into one instruction, as in hand-written C built for the machine and in the
    /// fast runtime's kernels: a shorter chain of latencies through each online step, and one
    /// rounding fewer. No -ffast-math: the arithmetic stays the runtimes' formulas.
    static func flags(fusedMultiplyAdd: Bool) -> [String] {
        #if arch(x86_64)
        let fused = fusedMultiplyAdd ? ["-mavx2", "-mfma", "-ffp-contract=fast"] : ["-ffp-contract=off"]
        #else
        let fused: [String] = []
        #endif
        return ["-O2", "-fno-math-errno"] + fused + ["-fPIC", "-shared"]
    }

    let compiler: String
    let directory: String?
    /// Part of every object's key, so a cache shared by machines with other CPUs never loads
    /// code built for instructions they lack.
    let flags: [String]

    /// The compiler named by `BPC_CC` (a path or a name on the PATH; empty turns native runs
    /// off), else the first of clang, cc and gcc on the PATH. Swift toolchains ship clang.
    static func findCompiler(environment: (String) -> String? = { getenv($0).map { String(cString: $0) } }) -> String? {
        if let chosen = environment("BPC_CC") {
            if chosen.isEmpty { return nil }
            return chosen.contains("/") ? (access(chosen, X_OK) == 0 ? chosen : nil) : search(chosen, environment)
        }
        for name in ["clang", "cc", "gcc"] {
            if let path = search(name, environment) { return path }
        }
        return nil
    }

    private static func search(_ name: String, _ environment: (String) -> String?) -> String? {
        let path = environment("PATH") ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    static func cacheDirectory(environment: (String) -> String? = { getenv($0).map { String(cString: $0) } }) -> String? {
        if let chosen = environment("BPC_CACHE_DIR"), !chosen.isEmpty { return chosen }
        if let cache = environment("XDG_CACHE_HOME"), !cache.isEmpty { return cache + "/bpc/native" }
        if let home = environment("HOME"), !home.isEmpty { return home + "/.cache/bpc/native" }
        return nil
    }

    init(compiler: String, fusedMultiplyAdd: Bool, directory: String? = SharedObjectCache.cacheDirectory()) {
        self.compiler = compiler
        self.flags = SharedObjectCache.flags(fusedMultiplyAdd: fusedMultiplyAdd)
        self.directory = directory.flatMap { SharedObjectCache.makeDirectories($0) ? $0 : nil }
    }

    /// The key naming the object `source` compiles to.
    func key(for source: String) -> String {
        var hasher = Fingerprint.Hasher()
        hasher.add(source)
        hasher.add(compiler)
        var info = stat()
        if stat(compiler, &info) == 0 {
            hasher.add(Int(info.st_size))
            #if canImport(Darwin)
            hasher.add(Int(info.st_mtimespec.tv_sec))
            hasher.add(Int(info.st_mtimespec.tv_nsec))
            #else
            hasher.add(Int(info.st_mtim.tv_sec))
            hasher.add(Int(info.st_mtim.tv_nsec))
            #endif
        }
        for flag in flags { hasher.add(flag) }
        let hex = String(hasher.value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Loads the object `source` compiles to, compiling it first unless the cache has it.
    /// `compiled` says whether this call ran the compiler.
    func load(_ source: String) throws(NativeUnavailable) -> (library: SharedLibrary, compiled: Bool) {
        let name = "bpc-" + key(for: source)
        if let directory {
            let path = "\(directory)/\(name).so"
            if access(path, R_OK) == 0, let library = try? SharedLibrary(path: path) { return (library, false) }
            // Unique per call: runs in other processes and threads may build the same object.
            let temporary = "\(directory)/\(name).\(getpid())-\(String(UInt64.random(in: 0...UInt64.max), radix: 36)).tmp"
            defer { unlink(temporary + ".c"); unlink(temporary + ".log"); unlink(temporary + ".so") }
            try compile(source, in: temporary)
            guard rename(temporary + ".so", path) == 0 else { return (try SharedLibrary(path: temporary + ".so"), true) }
            return (try SharedLibrary(path: path), true)
        }
        var template = Array("/tmp/bpc-native-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw .loadFailed("cannot create a temporary directory") }
        let scratch = String(cString: made)
        let temporary = "\(scratch)/\(name)"
        defer {
            for suffix in [".c", ".log", ".so"] { unlink(temporary + suffix) }
            rmdir(scratch)
        }
        try compile(source, in: temporary)
        // The loaded object stays mapped after its file is deleted.
        return (try SharedLibrary(path: temporary + ".so"), true)
    }

    /// Writes `base.c`, runs the compiler on it into `base.so`, its messages into `base.log`.
    private func compile(_ source: String, in base: String) throws(NativeUnavailable) {
        guard SharedObjectCache.write(source, to: base + ".c") else { throw .loadFailed("cannot write \(base).c") }
        let arguments = [compiler] + flags + ["-o", base + ".so", base + ".c", "-lm"]
        let status = SharedObjectCache.run(arguments, output: base + ".log")
        guard status == 0 else {
            let log = SharedObjectCache.read(base + ".log") ?? ""
            throw .compileFailed(compiler: compiler, log: String(log.suffix(2000)))
        }
    }

    /// Runs a program to completion with standard output and error going to `output`; its
    /// exit status, or -1 when it could not start or ended by a signal.
    private static func run(_ arguments: [String], output: String) -> Int32 {
        #if canImport(Darwin)
        var actions: posix_spawn_file_actions_t? = nil
        #else
        var actions = posix_spawn_file_actions_t()
        #endif
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        let argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var process: pid_t = 0
        guard posix_spawn(&process, arguments[0], &actions, nil, argv, environ) == 0 else { return -1 }
        var status: Int32 = 0
        while waitpid(process, &status, 0) < 0 {
            guard errno == EINTR else { return -1 }
        }
        // WIFEXITED / WEXITSTATUS, which Swift does not import.
        return status & 0x7F == 0 ? (status >> 8) & 0xFF : -1
    }

    private static func makeDirectories(_ path: String) -> Bool {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST { return false }
        }
        return access(path, W_OK) == 0
    }

    private static func write(_ text: String, to path: String) -> Bool {
        guard let file = fopen(path, "w") else { return false }
        let bytes = Array(text.utf8)
        let written = fwrite(bytes, 1, bytes.count, file)
        return fclose(file) == 0 && written == bytes.count
    }

    private static func read(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A loaded shared object, closed when the last reference goes.
final class SharedLibrary: @unchecked Sendable {
    private let handle: UnsafeMutableRawPointer

    init(path: String) throws(NativeUnavailable) {
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            throw .loadFailed(dlerror().map { String(cString: $0) } ?? path)
        }
        self.handle = handle
    }

    func symbol(_ name: String) -> UnsafeMutableRawPointer? { dlsym(handle, name) }

    deinit { dlclose(handle) }
}
