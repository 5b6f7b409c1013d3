/// An owned kernel file descriptor (a map, a program, BTF, a link): closed when the last reference goes.
///
/// A class rather than a `~Copyable` value because maps are shared by every program (and every
/// instance) that references them; the last owner closes.
public final class FileDescriptor: Sendable, CustomStringConvertible {
    public let rawValue: Int32

    init(adopting fd: Int32) {
        precondition(fd >= 0, "adopting a negative fd")
        rawValue = fd
    }

    deinit { sysClose(rawValue) }

    public var description: String { "fd \(rawValue)" }
}
