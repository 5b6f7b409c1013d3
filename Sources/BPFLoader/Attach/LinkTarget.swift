/// What a program is attached to. Every case becomes one BPF link.
public enum LinkTarget: Sendable, Equatable, CustomStringConvertible {
    case uprobe(UprobeTarget)
    case kprobe(function: String, offset: UInt64, isReturn: Bool)
    case tracepoint(category: String, name: String)
    case rawTracepoint(name: String)
    /// tp_btf, fentry, fexit, fmod_ret, lsm, iter: the target was fixed at load by attach_btf_id.
    case tracing
    case xdp(interface: String, mode: XDPMode)
    case tcx(interface: String, direction: TCDirection)
    /// nil attach type: the program's expected attach type (from its section).
    case cgroup(path: String, attachType: UInt32?)

    /// Whether BPF_LINK_UPDATE can swap the program of an existing link in place. The kernel
    /// implements update_prog for XDP, cgroup and tcx links (and iter, netns, struct_ops);
    /// perf-event and raw-tracepoint links have none.
    public var supportsInPlaceUpdate: Bool {
        switch self {
        case .xdp, .cgroup, .tcx: return true
        default: return false
        }
    }

    /// How errors and logs name the target, e.g. "uprobe /usr/bin/true:main+0x4",
    /// "tracepoint syscalls/sys_enter_getpid", "xdp on veth0 (auto)".
    public var description: String {
        switch self {
        case .uprobe(let u):
            var s = (u.isReturn ? "uretprobe " : "uprobe ") + u.binary
            if let f = u.function {
                s += ":" + f + (u.offset != 0 ? "+0x" + String(u.offset, radix: 16) : "")
            } else {
                s += ":0x" + String(u.offset, radix: 16)
            }
            if let pid = u.pid, pid > 0 { s += " (pid \(pid))" }
            return s
        case .kprobe(let function, let offset, let isReturn):
            return (isReturn ? "kretprobe " : "kprobe ") + function + (offset != 0 ? "+0x" + String(offset, radix: 16) : "")
        case .tracepoint(let category, let name):
            return "tracepoint \(category)/\(name)"
        case .rawTracepoint(let name):
            return "raw tracepoint \(name)"
        case .tracing:
            return "its load-time target"
        case .xdp(let interface, let mode):
            return "xdp on \(interface) (\(mode.rawValue))"
        case .tcx(let interface, let direction):
            return "tcx \(direction.rawValue) on \(interface)"
        case .cgroup(let path, let attachType):
            return "cgroup \(path)" + (attachType.map { " (attach type \($0))" } ?? "")
        }
    }
}
