import BPFLoader
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// Compiles BPF C with clang into a content-addressed cache: the key hashes the clang version,
/// the flags, the source and every header it includes, so a changed header is a miss and the
/// same inputs give the same (byte-identical) object.
public struct BuildStep: Sendable {
    public var clang: String
    public var cacheDirectory: String

    public init(clang: String = "clang", cacheDirectory: String = BuildStep.defaultCacheDirectory) {
        self.clang = clang
        self.cacheDirectory = cacheDirectory
    }

    public static var defaultCacheDirectory: String {
        let env = ProcessInfo.processInfo.environment
        if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty { return xdg + "/bpfpipe" }
        return (env["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp") + "/.cache/bpfpipe"
    }

    public struct Output: Sendable {
        public var object: String
        public var cacheHit: Bool
        public var key: String
    }

    /// `source` and `include` are already absolute. With a `baseDirectory` (the folder holding
    /// the pipeline, the source and the includes: the checkout) clang runs there and is given
    /// paths relative to it, so neither the object's debug info and BTF line info nor the cache
    /// key depend on where the checkout is: two checkouts in different folders build
    /// byte-identical objects under the same key. (A path map such as -ffile-prefix-map would
    /// not do: clang reads each source line for BTF from the mapped path, and would find none.)
    public func build(source: String, cflags: [String], include: [String], baseDirectory: String? = nil) throws -> Output {
        guard FileManager.default.fileExists(atPath: source) else {
            throw LoaderError(.build, file: source, "source file does not exist")
        }
        let base = baseDirectory.flatMap { b -> String? in
            let trimmed = b.hasSuffix("/") ? String(b.dropLast()) : b
            return trimmed.isEmpty || !source.hasPrefix(trimmed + "/") ? nil : trimmed
        }
        let flags = ["-O2", "-g", "-target", "bpf", "-I/usr/include/\(machine())-linux-gnu", "-D__TARGET_ARCH_\(targetArch())",
                     // The compile directory goes into DWARF; fixing it keeps objects identical wherever bpfpipe runs.
                     base == nil ? "-fdebug-compilation-dir=/" : "-fdebug-compilation-dir=.",
                     // Errors still name files by their full path, whatever folder clang runs in.
                     "-fdiagnostics-absolute-paths"]
            + include.map { "-I" + relative($0, to: base) } + cflags
        let input = relative(source, to: base)
        var hash = SHA256()
        hash.update(try clangVersion())
        hash.update(flags.joined(separator: "\u{0}"))
        for file in try dependencies(source: input, flags: flags, directory: base) {
            hash.update(file + "\u{0}")
            let path = file.hasPrefix("/") || base == nil ? file : "\(base!)/\(file)"
            guard let data = FileManager.default.contents(atPath: path) else {
                throw LoaderError(.build, file: source, "cannot read '\(file)', which it includes")
            }
            hash.update(data)
        }
        let key = hash.hexDigest()
        // Named after the source so the object's name (and its global-data map names) are the
        // source's, as when compiled by hand.
        let stem = source.split(separator: "/").last.map { String($0.split(separator: ".").first ?? $0) } ?? "object"
        let out = "\(cacheDirectory)/\(stem).\(key).o"
        if FileManager.default.fileExists(atPath: out) { return Output(object: out, cacheHit: true, key: key) }
        do {
            try FileManager.default.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true)
        } catch {
            throw LoaderError(.build, file: source, "cannot create the build cache \(cacheDirectory): \(error)")
        }
        // Unique per build, so concurrent builds of one source (threads or processes) never share it.
        let tmp = "\(out).tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let result = try runClang(flags + ["-c", input, "-o", tmp], source: source, directory: base)
        guard result.status == 0 else {
            try? FileManager.default.removeItem(atPath: tmp)
            throw compileError(result.stderrText, source: source)
        }
        // rename(2) makes the cache entry appear whole, even with concurrent builds.
        guard rename(tmp, out) == 0 else {
            try? FileManager.default.removeItem(atPath: tmp)
            throw LoaderError(.build, file: source, "cannot move the object into the cache: \(String(cString: strerror(errno)))")
        }
        return Output(object: out, cacheHit: false, key: key)
    }

    /// `path` relative to `base` when it lies below it; as it is otherwise.
    private func relative(_ path: String, to base: String?) -> String {
        guard let base, path.hasPrefix(base + "/") else { return path }
        return String(path.dropFirst(base.count + 1))
    }

    /// Every file the source includes, from clang's own dependency output.
    private func dependencies(source: String, flags: [String], directory: String?) throws -> [String] {
        let r = try runClang(flags + ["-M", "-MF", "/dev/stdout", source], source: source, directory: directory)
        guard r.status == 0 else { throw compileError(r.stderrText, source: source) }
        // Make syntax: "target.o: a.c b.h \\\n c.h"; paths with spaces are escaped as "\ ".
        let text = r.stdoutText.replacing("\\\n", with: " ")
        guard let colon = text.firstIndex(of: ":") else { return [source] }
        var files: [String] = []
        var current = ""
        var escaped = false
        for ch in text[text.index(after: colon)...] {
            if escaped { current.append(ch); escaped = false; continue }
            if ch == "\\" { escaped = true; continue }
            if ch == " " || ch == "\n" || ch == "\t" {
                if !current.isEmpty { files.append(current); current = "" }
                continue
            }
            current.append(ch)
        }
        if !current.isEmpty { files.append(current) }
        return files.sorted()
    }

    private func clangVersion() throws -> String {
        let r = try runClang(["--version"], source: nil)
        return r.stdoutText
    }

    private func runClang(_ args: [String], source: String?, directory: String? = nil) throws -> Subprocess.Result {
        do {
            // A relative --clang means one relative to here, not to the folder clang runs in.
            let executable = clang.contains("/") && !clang.hasPrefix("/") ? Paths.absolute(clang, relativeTo: ".") : clang
            return try Subprocess.run(executable, args, directory: directory)
        } catch {
            throw LoaderError(.build, file: source, "\(error)", hint: "install clang or point --clang at it")
        }
    }

    /// clang already writes `file:line:col: error: ...`; keep those lines first.
    private func compileError(_ stderr: String, source: String) -> LoaderError {
        let lines = stderr.split(separator: "\n").map(String.init)
        let errors = lines.filter { $0.contains(": error:") || $0.contains(": fatal error:") }
        let head = errors.first ?? lines.first ?? "clang failed"
        var e = LoaderError(.build, file: source, "compilation failed: \(head)")
        if lines.count > 1 { e.message += "\n" + lines.prefix(40).map { "    " + $0 }.joined(separator: "\n") }
        return e
    }

    private func machine() -> String {
        var u = utsname()
        uname(&u)
        return withUnsafeBytes(of: &u.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    private func targetArch() -> String {
        switch machine() {
        case "x86_64": return "x86"
        case "aarch64": return "arm64"
        case let m where m.hasPrefix("arm"): return "arm"
        case "s390x": return "s390"
        case let m where m.hasPrefix("ppc"): return "powerpc"
        case let m where m.hasPrefix("riscv"): return "riscv"
        default: return machine()
        }
    }
}
