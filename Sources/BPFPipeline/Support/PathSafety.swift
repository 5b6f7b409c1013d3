#if canImport(Glibc)
import Glibc
#endif

/// Refuses files that someone other than their owner could have swapped: a world-writable file,
/// or one inside a world-writable folder that lacks the sticky bit (as /tmp has it).
enum PathSafety {
    static func unsafeReason(_ path: String) -> String? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        if st.st_mode & S_IWOTH != 0 { return "\(path) is world-writable" }
        var dir = Paths.directory(of: Paths.absolute(path, relativeTo: Paths.currentDirectory()))
        while true {
            var d = stat()
            if stat(dir, &d) == 0, d.st_mode & S_IWOTH != 0, d.st_mode & S_ISVTX == 0 {
                return "\(path) is in \(dir), which anyone can write to and which lacks the sticky bit"
            }
            if dir == "/" { return nil }
            dir = Paths.directory(of: dir)
        }
    }

    /// The first component of `path` that is a symbolic link, if any: pins must stay under the
    /// pin root, and a link could send them elsewhere.
    static func symlinkComponent(_ path: String) -> String? {
        var current = ""
        for part in path.split(separator: "/") {
            current += "/" + part
            var st = stat()
            if lstat(current, &st) == 0, st.st_mode & S_IFMT == S_IFLNK { return current }
        }
        return nil
    }
}
