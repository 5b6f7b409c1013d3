/// `enum bpf_link_type` values, including those newer than the Linux 6.1 headers CBPFSys is
/// built against (from include/uapi/linux/bpf.h of Linux 6.6+; TCX is 11).
public enum LinkType {
    public static let rawTracepoint: UInt32 = 1
    public static let tracing: UInt32 = 2
    public static let cgroup: UInt32 = 3
    public static let iter: UInt32 = 4
    public static let netns: UInt32 = 5
    public static let xdp: UInt32 = 6
    public static let perfEvent: UInt32 = 7
    public static let kprobeMulti: UInt32 = 8
    public static let structOps: UInt32 = 9
    public static let netfilter: UInt32 = 10
    public static let tcx: UInt32 = 11          // Linux 6.6
    public static let uprobeMulti: UInt32 = 12  // Linux 6.6
    public static let netkit: UInt32 = 13       // Linux 6.7

    /// bpftool's name for a link type ("perf_event", "tcx", ...).
    public static func name(_ type: UInt32) -> String {
        let names = ["unspec", "raw_tracepoint", "tracing", "cgroup", "iter", "netns", "xdp", "perf_event",
                     "kprobe_multi", "struct_ops", "netfilter", "tcx", "uprobe_multi", "netkit"]
        return type < names.count ? names[Int(type)] : "type \(type)"
    }
}
