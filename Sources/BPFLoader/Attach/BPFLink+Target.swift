#if canImport(Glibc)
import Glibc
#endif

extension BPFLink {
    /// Whether this link (opened from a pin, so its target is not known) is attached where
    /// `target` says: the same interface for xdp, the same interface and direction for tcx, the
    /// same cgroup (and attach type, when given) for cgroup. nil for other kinds, whose links
    /// cannot be updated in place anyway. A redeploy updates a link in place only when this is
    /// true, so a pipeline that moved a program to another interface gets a new link there.
    public func isAttached(to target: LinkTarget) -> Bool? {
        guard case .success(let info) = BPFCommand.linkInfo(fd) else { return false }
        // The union after type, id and prog_id starts at offset 16 (it holds 64-bit fields).
        let union = withUnsafeBytes(of: info) { Array($0.dropFirst(16).prefix(16)) }
        func u32(_ at: Int) -> UInt32 { union[at..<at + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) } }
        func u64(_ at: Int) -> UInt64 { union[at..<at + 8].reversed().reduce(0) { $0 << 8 | UInt64($1) } }
        switch target {
        case .xdp(let interface, _):
            // struct { __u32 ifindex; } xdp
            return info.type == LinkType.xdp && u32(0) == if_nametoindex(interface)
        case .tcx(let interface, let direction):
            // struct { __u32 ifindex; __u32 attach_type; } tcx (Linux 6.6)
            let type = direction == .ingress ? SectionDefinitions.NewerUAPI.tcxIngress : SectionDefinitions.NewerUAPI.tcxEgress
            return info.type == LinkType.tcx && u32(0) == if_nametoindex(interface) && u32(4) == type
        case .cgroup(let path, let attachType):
            // struct { __u64 cgroup_id; __u32 attach_type; } cgroup; a cgroup v2 id is its folder's inode number.
            var st = stat()
            guard info.type == LinkType.cgroup, stat(path, &st) == 0 else { return false }
            return u64(0) == UInt64(st.st_ino) && (attachType.map { $0 == u32(8) } ?? true)
        default:
            return nil
        }
    }
}
