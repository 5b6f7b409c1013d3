#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An errno value returned by the kernel, with the conventional name and message.
public struct Errno: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The value of `errno` right now; only meaningful right after a failed call.
    static var current: Errno { Errno(rawValue: errno) }

    public static let operationNotPermitted = Errno(rawValue: EPERM)
    public static let noSuchFile = Errno(rawValue: ENOENT)
    public static let interrupted = Errno(rawValue: EINTR)
    public static let badFileDescriptor = Errno(rawValue: EBADF)
    public static let tryAgain = Errno(rawValue: EAGAIN)
    public static let permissionDenied = Errno(rawValue: EACCES)
    public static let fileExists = Errno(rawValue: EEXIST)
    public static let invalidArgument = Errno(rawValue: EINVAL)
    public static let noSpace = Errno(rawValue: ENOSPC)
    public static let tooBig = Errno(rawValue: E2BIG)
    public static let notSupported = Errno(rawValue: EOPNOTSUPP)

    public var name: String {
        switch rawValue {
        case EPERM: return "EPERM"
        case ENOENT: return "ENOENT"
        case EINTR: return "EINTR"
        case EBADF: return "EBADF"
        case EAGAIN: return "EAGAIN"
        case EACCES: return "EACCES"
        case EEXIST: return "EEXIST"
        case EINVAL: return "EINVAL"
        case ENOSPC: return "ENOSPC"
        case E2BIG: return "E2BIG"
        case EFAULT: return "EFAULT"
        case ENOTSUP: return "EOPNOTSUPP"
        case ENOMEM: return "ENOMEM"
        case EBUSY: return "EBUSY"
        case ENOTDIR: return "ENOTDIR"
        case EISDIR: return "EISDIR"
        case ENOSYS: return "ENOSYS"
        case ESRCH: return "ESRCH"
        case 524: return "ENOTSUPP"  // kernel-internal, leaks out of bpf(): no strerror text
        default: return "errno \(rawValue)"
        }
    }

    public var description: String {
        if rawValue == 524 { return "ENOTSUPP (operation not supported)" }
        return "\(name) (\(String(cString: strerror(rawValue))))"
    }
}
