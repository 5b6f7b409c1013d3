import Testing
@testable import BPFLoader

/// libbpf's section syntax for targets, without the kernel.
@Suite struct LinkTargetSectionTests {
    @Test func sectionsThatNameATarget() {
        let cases: [(String, LinkTarget)] = [
            ("uprobe//usr/bin/true:main", .uprobe(UprobeTarget(binary: "/usr/bin/true", function: "main"))),
            ("uprobe//lib/libc.so.6:malloc+0x10", .uprobe(UprobeTarget(binary: "/lib/libc.so.6", function: "malloc", offset: 16))),
            ("uretprobe//opt/victim:f2", .uprobe(UprobeTarget(binary: "/opt/victim", function: "f2", isReturn: true))),
            ("uprobe.s//opt/victim:0x1040", .uprobe(UprobeTarget(binary: "/opt/victim", offset: 0x1040))),
            ("uprobe/./victim:f1", .uprobe(UprobeTarget(binary: "./victim", function: "f1"))),
            ("tp/syscalls/sys_enter_getpid", .tracepoint(category: "syscalls", name: "sys_enter_getpid")),
            ("tracepoint/sched/sched_switch", .tracepoint(category: "sched", name: "sched_switch")),
            ("raw_tp/sched_switch", .rawTracepoint(name: "sched_switch")),
            ("raw_tracepoint/sys_enter", .rawTracepoint(name: "sys_enter")),
            ("raw_tp.w/sched_switch", .rawTracepoint(name: "sched_switch")),
            ("tp_btf/sched_switch", .tracing),
            ("fentry/do_unlinkat", .tracing),
            ("lsm/file_open", .tracing),
            ("kprobe/do_nanosleep", .kprobe(function: "do_nanosleep", offset: 0, isReturn: false)),
            ("kprobe/do_sys_open+8", .kprobe(function: "do_sys_open", offset: 8, isReturn: false)),
            ("kretprobe/do_nanosleep", .kprobe(function: "do_nanosleep", offset: 0, isReturn: true)),
            ("?tp/syscalls/sys_enter_getpid", .tracepoint(category: "syscalls", name: "sys_enter_getpid")),
        ]
        for (section, target) in cases {
            #expect(LinkTarget.fromSection(section) == target, "\(section)")
        }
    }

    @Test func sectionsThatNameNone() {
        for section in ["xdp", "tc", "tc/ingress", "socket", "uprobe", "uretprobe", "kprobe", "tp", "tp/syscalls",
                        "tp/a/b/c", "raw_tp", "cgroup/sock_create", "cgroup_skb/egress", "uprobe//bin/true",
                        "uprobe//bin/true:", "kretprobe/f+4", "kprobe/bad name", "sockops", "struct_ops/x"] {
            #expect(LinkTarget.fromSection(section) == nil, "\(section)")
        }
    }

    @Test func descriptionsNameTheTarget() {
        #expect(LinkTarget.uprobe(UprobeTarget(binary: "/b", function: "f", offset: 4, pid: 42, isReturn: true)).description == "uretprobe /b:f+0x4 (pid 42)")
        #expect(LinkTarget.xdp(interface: "veth0", mode: .generic).description == "xdp on veth0 (generic)")
        #expect(LinkTarget.tcx(interface: "veth0", direction: .ingress).description == "tcx ingress on veth0")
        #expect(LinkTarget.cgroup(path: "/sys/fs/cgroup/unified/lab", attachType: nil).description == "cgroup /sys/fs/cgroup/unified/lab")
        #expect(LinkTarget.kprobe(function: "f", offset: 0, isReturn: false).description == "kprobe f")
    }

    @Test func inPlaceUpdateIsForXDPCgroupAndTCX() {
        #expect(LinkTarget.xdp(interface: "a", mode: .auto).supportsInPlaceUpdate)
        #expect(LinkTarget.tcx(interface: "a", direction: .egress).supportsInPlaceUpdate)
        #expect(LinkTarget.cgroup(path: "/x", attachType: 2).supportsInPlaceUpdate)
        #expect(!LinkTarget.rawTracepoint(name: "x").supportsInPlaceUpdate)
        #expect(!LinkTarget.uprobe(UprobeTarget(binary: "/b", function: "f")).supportsInPlaceUpdate)
        #expect(!LinkTarget.tracing.supportsInPlaceUpdate)
    }
}
