#if canImport(Glibc)
import Glibc
#endif

/// An attached BPF link. It owns its fd: closing the last reference detaches the program,
/// unless the link is pinned, in which case the pin keeps it attached until the pin is removed.
public final class BPFLink: Sendable {
    public let fd: FileDescriptor
    /// What it was attached to; nil for a link opened from a pin.
    public let target: LinkTarget?

    init(fd: FileDescriptor, target: LinkTarget?) {
        self.fd = fd
        self.target = target
    }

    /// Pins the link (BPF_OBJ_PIN) so that it outlives this process.
    public func pin(at path: String) throws {
        if case .failure(let e) = BPFCommand.pin(fd, at: path) {
            throw LoaderError(.attach, at: path, "cannot pin link" + (target.map { " to \($0)" } ?? ""), errno: e,
                              hint: e == .fileExists ? "something is already pinned there; remove it or pin elsewhere" : nil)
        }
    }

    /// The link's id, program id and type.
    public func info() throws -> LinkInfo {
        switch BPFCommand.linkInfo(fd) {
        case .success(let i): return LinkInfo(id: i.id, programID: i.prog_id, type: i.type)
        case .failure(let e): throw LoaderError(.attach, at: "link \(fd)", "cannot read link info", errno: e)
        }
    }

    /// Swaps the program the link runs (BPF_LINK_UPDATE), with no gap: XDP, cgroup and tcx links
    /// (see `LinkTarget.supportsInPlaceUpdate`); others refuse with EOPNOTSUPP.
    public func update(program: FileDescriptor) throws {
        if case .failure(let e) = BPFCommand.updateLink(fd, program: program) {
            throw LoaderError(.attach, at: target.map { "link to \($0)" } ?? "link \(fd)", "cannot update the link's program", errno: e,
                              hint: e == .notSupported || e == .invalidArgument ? "only xdp, cgroup and tcx links can swap their program in place" : nil)
        }
    }

    /// Detaches now (BPF_LINK_DETACH), even while pins or other fds still refer to the link;
    /// the link object stays, defunct, until the last of them goes.
    public func detach() throws {
        if case .failure(let e) = BPFCommand.detachLink(fd) {
            throw LoaderError(.attach, at: target.map { "link to \($0)" } ?? "link \(fd)", "cannot detach", errno: e)
        }
    }

    /// Opens a pinned link (BPF_OBJ_GET).
    public static func openPinned(_ path: String) throws -> BPFLink {
        switch BPFCommand.get(pinned: path) {
        case .success(let fd):
            let link = BPFLink(fd: fd, target: nil)
            // BPF_OBJ_GET opens programs and maps too (and info-by-fd answers for those as well).
            guard fdKind(fd) == "anon_inode:bpf-link" else {
                throw LoaderError(.attach, at: path, "pin is not a link (\(fdKind(fd) ?? "unknown"))")
            }
            return link
        case .failure(let e):
            throw LoaderError(.attach, at: path, "cannot open pinned link", errno: e)
        }
    }
}

/// What /proc/self/fd says an fd is, e.g. "anon_inode:bpf-link".
func fdKind(_ fd: FileDescriptor) -> String? {
    var buf = [CChar](repeating: 0, count: 64)
    let n = readlink("/proc/self/fd/\(fd.rawValue)", &buf, buf.count - 1)
    guard n > 0 else { return nil }
    return String(decoding: buf[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
