#if canImport(Glibc)
import Glibc
#endif

/// Path helpers without Foundation.
enum Paths {
    static func absolute(_ path: String, relativeTo base: String) -> String {
        let root = base.hasPrefix("/") ? base : currentDirectory() + "/" + base
        return normalize(path.hasPrefix("/") ? path : root + "/" + path)
    }

    /// Removes `.` and resolves `..` lexically.
    static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for p in path.split(separator: "/") {
            if p == "." || p.isEmpty { continue }
            if p == "..", !parts.isEmpty { parts.removeLast(); continue }
            parts.append(p)
        }
        return "/" + parts.joined(separator: "/")
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// The deepest folder that holds every one of `paths` (absolute, normalized); "/" at worst.
    static func commonAncestor(_ paths: [String]) -> String {
        guard var common = paths.first?.split(separator: "/") else { return "/" }
        for p in paths.dropFirst() {
            let parts = p.split(separator: "/")
            common = Array(zip(common, parts).prefix { $0 == $1 }.map(\.0))
        }
        return "/" + common.joined(separator: "/")
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    static func currentDirectory() -> String {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX))
        guard getcwd(&buf, buf.count) != nil else { return "/" }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The folder of the running executable, from /proc/self/exe.
    static func executableDirectory() -> String {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buf, Int(PATH_MAX))
        guard n > 0 else { return "." }
        return directory(of: String(decoding: buf.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
}
