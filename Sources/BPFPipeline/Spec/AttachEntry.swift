/// What a program's `attach:` key says: attach as the section names (no key, or `attach: true`),
/// never (`attach: false`), or to the targets listed.
public enum ProgramAttach: Sendable, Equatable {
    /// No `attach` key: the section names the target (`tp/syscalls/sys_enter_getpid`), or there is
    /// none (`xdp`, `socket`, bare `uprobe`) and the program is loaded and pinned only.
    case fromSection
    /// `attach: false`: loaded and pinned, never attached.
    case never
    /// One target for every instance, or exactly one per instance (checked when decoded).
    case targets([AttachEntry])

    /// The target written for instance `n`; nil for `fromSection` and `never`.
    public func entry(forInstance n: Int) -> AttachEntry? {
        guard case .targets(let list) = self, !list.isEmpty else { return nil }
        return list.count == 1 ? list[0] : (n < list.count ? list[n] : nil)
    }
}

/// One attach target as written in the pipeline file, with paths already made absolute.
public struct AttachEntry: Sendable, Equatable {
    public enum XDPMode: String, Sendable, Equatable, CaseIterable { case auto, native, generic }
    public enum TCDirection: String, Sendable, Equatable, CaseIterable { case ingress, egress }

    public enum Kind: Sendable, Equatable {
        /// `uprobe`/`uretprobe`: `binary` absolute; `offset` is added to the function's offset, or
        /// is the file offset itself without a function; `pid` nil for every process.
        case uprobe(binary: String, function: String?, offset: UInt64, pid: Int32?, isReturn: Bool)
        case kprobe(function: String, offset: UInt64, isReturn: Bool)
        case tracepoint(category: String, name: String)
        case rawTracepoint(name: String)
        case xdp(interface: String, mode: XDPMode)
        case tc(interface: String, direction: TCDirection)
        /// `attachType` is the kernel's `enum bpf_attach_type` value for `type:`, nil for the
        /// program's expected attach type.
        case cgroup(path: String, attachType: UInt32?)
    }

    public var kind: Kind
    public var mark: SourceMark

    public init(kind: Kind, mark: SourceMark) {
        self.kind = kind
        self.mark = mark
    }

    /// The target kinds an entry may name, as written in the file.
    public static let kindNames = ["uprobe", "uretprobe", "kprobe", "kretprobe", "tracepoint", "raw-tracepoint", "xdp", "tc", "cgroup"]

    /// `type:` of a cgroup target: bpftool's attach type names and the kernel's values for them.
    public static let cgroupTypes: [String: UInt32] = [
        "ingress": 0, "egress": 1, "sock_create": 2, "sock_ops": 3, "device": 6,
        "bind4": 8, "bind6": 9, "connect4": 10, "connect6": 11, "post_bind4": 12, "post_bind6": 13,
        "sendmsg4": 14, "sendmsg6": 15, "sysctl": 18, "recvmsg4": 19, "recvmsg6": 20,
        "getsockopt": 21, "setsockopt": 22, "getpeername4": 29, "getpeername6": 30,
        "getsockname4": 31, "getsockname6": 32, "sock_release": 34,
        "connect_unix": 49, "sendmsg_unix": 50, "recvmsg_unix": 51, "getpeername_unix": 52, "getsockname_unix": 53,
    ]
}
