import CBPFSys
#if canImport(Glibc)
import Glibc
#endif

/// The BPF filesystem, where pins live.
public enum BPFFS {
    public static let defaultMountPoint = "/sys/fs/bpf"
    static let magic = 0xcafe4a11

    public static func isBPFFS(_ path: String) -> Bool {
        if case .success(let t) = sysStatfsType(path), t == magic { return true }
        return false
    }

    /// Makes sure `path` can hold pins: mounts bpffs at /sys/fs/bpf when it is not mounted (as
    /// bpftool does) and refuses a path on any other filesystem.
    public static func prepare(_ path: String, step: Step = .pin) throws {
        if !isBPFFS(defaultMountPoint) && (path == defaultMountPoint || path.hasPrefix(defaultMountPoint + "/")) {
            if case .failure(let e) = sysMount(source: "bpf", target: defaultMountPoint, type: "bpf") {
                throw LoaderError(step, at: defaultMountPoint, "bpffs is not mounted and mounting it failed", errno: e,
                                  hint: "mount it yourself: mount -t bpf bpf \(defaultMountPoint)", exitClass: .environment)
            }
        }
        let existing = nearestExistingAncestor(path)
        guard isBPFFS(existing) else {
            throw LoaderError(step, at: path, "not on a BPF filesystem (\(existing) is not bpffs)",
                              hint: "pin under \(defaultMountPoint), or mount bpffs there: mount -t bpf bpf DIR", exitClass: .environment)
        }
    }

    /// Creates `path` and its missing parents; returns the directories it created, outermost first.
    @discardableResult
    public static func makeDirectories(_ path: String, step: Step = .pin) throws -> [String] {
        var created: [String] = []
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            // sysfs answers mkdir with EPERM even for folders that exist, so look first.
            if exists(current) { continue }
            switch sysMkdir(current, 0o700) {
            case .success: created.append(current)
            case .failure(let e) where e == .fileExists: continue
            case .failure(let e):
                for d in created.reversed() { _ = sysRmdir(d) }
                throw LoaderError(step, at: current, "cannot create directory", errno: e)
            }
        }
        return created
    }

    static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    static func nearestExistingAncestor(_ path: String) -> String {
        var p = path
        while !exists(p) {
            guard let slash = p.lastIndex(of: "/") else { return "." }
            p = slash == p.startIndex ? "/" : String(p[..<slash])
        }
        return p
    }

    /// Opens a pinned program or map (BPF_OBJ_GET).
    public static func openPinned(_ path: String) throws -> FileDescriptor {
        switch BPFCommand.get(pinned: path) {
        case .success(let fd): return fd
        case .failure(let e): throw LoaderError(.pin, at: path, "cannot open pin", errno: e)
        }
    }

    /// Removes a pin or an empty directory.
    static func remove(_ path: String) {
        if case .failure = sysUnlink(path) { _ = sysRmdir(path) }
    }
}
