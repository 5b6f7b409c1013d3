extension BPFFS {
    /// Whether anything (a pin, a folder) is at `path`; lets a caller know whether a folder it
    /// is about to pin into is its own to remove on failure.
    public static func pathExists(_ path: String) -> Bool { exists(path) }
}
