#if canImport(Glibc)
import Glibc
#endif

/// tracefs, where tracepoints' event ids are listed. Not mounted at boot on some machines (this
/// one among them), so it is mounted when a tracepoint needs it, as bpffs is for pins.
enum Tracefs {
    static let mountPoint = "/sys/kernel/tracing"
    static let magic = 0x74726163   // TRACEFS_MAGIC

    static func isMounted() -> Bool {
        if case .success(let t) = sysStatfsType(mountPoint), t == magic { return true }
        return false
    }

    /// Mounts tracefs at /sys/kernel/tracing unless it is there already.
    static func prepare() throws {
        guard !isMounted() else { return }
        if case .failure(let e) = sysMount(source: "nodev", target: mountPoint, type: "tracefs") {
            // Another process may have mounted it meanwhile.
            if isMounted() { return }
            throw LoaderError(.attach, at: mountPoint, "tracefs is not mounted and mounting it failed", errno: e,
                              hint: "mount it yourself: mount -t tracefs nodev \(mountPoint)")
        }
    }

    /// The event id of tracepoint `category/name`; nil when tracefs has no such event.
    static func eventID(category: String, name: String) throws -> UInt64? {
        // A '/' or '..' in either part must not walk out of events/.
        for part in [category, name] where part.isEmpty || part.contains("/") || part == "." || part == ".." {
            return nil
        }
        try prepare()
        let path = "\(mountPoint)/events/\(category)/\(name)/id"
        guard BPFFS.exists(path) else { return nil }
        return UInt64(try PerfEvent.readSmallFile(path))
    }
}
