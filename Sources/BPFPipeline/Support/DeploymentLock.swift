import BPFLoader
#if canImport(Glibc)
import Glibc
#endif

/// One run (or `down`) at a time per pipeline deployment: an exclusive flock(2) on a lock file
/// named after `<pin-root>/<name>`, held until this value is released. The lock lives outside
/// bpffs, which holds only pins, and the kernel drops it if the process dies.
public final class DeploymentLock {
    private let fd: Int32
    public let path: String

    public struct Timeout: Error, CustomStringConvertible {
        public var deployment: String
        public var seconds: Double
        public var path: String
        public var description: String {
            "another bpfpipe run is deploying \(deployment) (lock \(path)); gave up after \(seconds) s"
        }
    }

    /// Waits up to `timeout` seconds (0: do not wait) for the lock.
    public init(deployment: String, timeout: Double) throws {
        let dir = access("/run/lock", W_OK) == 0 ? "/run/lock" : "/tmp"
        var hash = SHA256()
        hash.update(deployment)
        path = "\(dir)/bpfpipe-\(hash.hexDigest().prefix(16)).lock"
        let f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard f >= 0 else { throw LoaderError(.pin, at: path, "cannot open the deployment lock: \(String(cString: strerror(errno)))") }
        let deadline = MonotonicClock.nanoseconds() + UInt64(max(0, timeout) * 1e9)
        while flock(f, LOCK_EX | LOCK_NB) != 0 {
            let err = errno
            guard err == EWOULDBLOCK || err == EINTR else {
                close(f)
                throw LoaderError(.pin, at: path, "cannot take the deployment lock: \(String(cString: strerror(err)))")
            }
            if MonotonicClock.nanoseconds() >= deadline {
                close(f)
                throw Timeout(deployment: deployment, seconds: timeout, path: path)
            }
            usleep(20_000)
        }
        fd = f
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
