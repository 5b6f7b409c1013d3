import CBPFSys
import Testing

@testable import BPFLoader

@Suite struct SectionDefinitionsTests {
    /// One expected outcome: section name → program type, expected attach type, and the flags
    /// that change what BPF_PROG_LOAD receives.
    struct Case: Sendable, CustomTestStringConvertible {
        var section: String
        var type: UInt32
        var attach: UInt32 = 0
        var required = false
        var sleepable = false
        var btf = false
        var target: String? = nil
        var frags = false
        var testDescription: String { section }
    }

    static let cases: [Case] = {
        let u = SectionDefinitions.NewerUAPI.self
        let sockAddr = BPF_PROG_TYPE_CGROUP_SOCK_ADDR.rawValue
        let kprobe = BPF_PROG_TYPE_KPROBE.rawValue, tracing = BPF_PROG_TYPE_TRACING.rawValue
        let cls = BPF_PROG_TYPE_SCHED_CLS.rawValue, xdp = BPF_PROG_TYPE_XDP.rawValue
        return [
            Case(section: "socket", type: BPF_PROG_TYPE_SOCKET_FILTER.rawValue),
            Case(section: "sk_reuseport/migrate", type: BPF_PROG_TYPE_SK_REUSEPORT.rawValue,
                 attach: BPF_SK_REUSEPORT_SELECT_OR_MIGRATE.rawValue, required: true),
            Case(section: "sk_reuseport", type: BPF_PROG_TYPE_SK_REUSEPORT.rawValue,
                 attach: BPF_SK_REUSEPORT_SELECT.rawValue, required: true),
            Case(section: "kprobe/do_sys_open", type: kprobe, target: "do_sys_open"),
            Case(section: "kretprobe/do_sys_open", type: kprobe, target: "do_sys_open"),
            Case(section: "uprobe//usr/lib/libc.so.6:malloc", type: kprobe, target: "/usr/lib/libc.so.6:malloc"),
            Case(section: "uprobe.s/bin:f", type: kprobe, sleepable: true, target: "bin:f"),
            Case(section: "uretprobe.s", type: kprobe, sleepable: true),
            Case(section: "kprobe.multi/tcp_*", type: kprobe, attach: BPF_TRACE_KPROBE_MULTI.rawValue,
                 required: true, target: "tcp_*"),
            Case(section: "kretprobe.multi", type: kprobe, attach: BPF_TRACE_KPROBE_MULTI.rawValue, required: true),
            Case(section: "uprobe.multi/bin:f*", type: kprobe, attach: u.traceUprobeMulti, required: true, target: "bin:f*"),
            Case(section: "uretprobe.multi.s", type: kprobe, attach: u.traceUprobeMulti, required: true, sleepable: true),
            Case(section: "kprobe.session", type: kprobe, attach: 56, required: true),
            Case(section: "ksyscall/openat", type: kprobe, target: "openat"),
            Case(section: "usdt/libc:probe", type: kprobe, target: "libc:probe"),
            Case(section: "tc/ingress", type: cls, attach: u.tcxIngress, required: true),
            Case(section: "tcx/egress", type: cls, attach: 47, required: true),
            Case(section: "tc", type: cls),
            Case(section: "classifier", type: cls),
            Case(section: "action", type: BPF_PROG_TYPE_SCHED_ACT.rawValue),
            Case(section: "netkit/primary", type: cls, attach: 54, required: true),
            Case(section: "netkit/peer", type: cls, attach: 55, required: true),
            Case(section: "tracepoint/sched/sched_switch", type: BPF_PROG_TYPE_TRACEPOINT.rawValue,
                 target: "sched/sched_switch"),
            Case(section: "tp/syscalls/sys_enter_openat", type: BPF_PROG_TYPE_TRACEPOINT.rawValue,
                 target: "syscalls/sys_enter_openat"),
            Case(section: "raw_tp/sched_switch", type: BPF_PROG_TYPE_RAW_TRACEPOINT.rawValue, target: "sched_switch"),
            Case(section: "raw_tracepoint.w/bpf_test_finish", type: BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE.rawValue,
                 target: "bpf_test_finish"),
            Case(section: "tp_btf/sched_switch", type: tracing, attach: BPF_TRACE_RAW_TP.rawValue,
                 required: true, btf: true, target: "sched_switch"),
            Case(section: "fentry/tcp_v4_connect", type: tracing, attach: BPF_TRACE_FENTRY.rawValue,
                 required: true, btf: true, target: "tcp_v4_connect"),
            Case(section: "fexit.s/do_unlinkat", type: tracing, attach: BPF_TRACE_FEXIT.rawValue,
                 required: true, sleepable: true, btf: true, target: "do_unlinkat"),
            Case(section: "fmod_ret/security_file_open", type: tracing, attach: BPF_MODIFY_RETURN.rawValue,
                 required: true, btf: true, target: "security_file_open"),
            Case(section: "fsession/vfs_read", type: tracing, attach: 58, required: true, btf: true, target: "vfs_read"),
            Case(section: "freplace/handler", type: BPF_PROG_TYPE_EXT.rawValue, btf: true, target: "handler"),
            Case(section: "lsm/file_open", type: BPF_PROG_TYPE_LSM.rawValue, attach: BPF_LSM_MAC.rawValue,
                 required: true, btf: true, target: "file_open"),
            Case(section: "lsm.s/bprm_committed_creds", type: BPF_PROG_TYPE_LSM.rawValue, attach: BPF_LSM_MAC.rawValue,
                 required: true, sleepable: true, btf: true, target: "bprm_committed_creds"),
            Case(section: "lsm_cgroup/socket_bind", type: BPF_PROG_TYPE_LSM.rawValue, attach: BPF_LSM_CGROUP.rawValue,
                 required: true, btf: true, target: "socket_bind"),
            Case(section: "iter/task", type: tracing, attach: BPF_TRACE_ITER.rawValue, required: true, btf: true,
                 target: "task"),
            Case(section: "iter.s/task_file", type: tracing, attach: BPF_TRACE_ITER.rawValue, required: true,
                 sleepable: true, btf: true, target: "task_file"),
            Case(section: "syscall", type: BPF_PROG_TYPE_SYSCALL.rawValue, sleepable: true),
            Case(section: "xdp", type: xdp, attach: BPF_XDP.rawValue),
            Case(section: "xdp.frags", type: xdp, attach: BPF_XDP.rawValue, required: true, frags: true),
            Case(section: "xdp/devmap", type: xdp, attach: BPF_XDP_DEVMAP.rawValue, required: true),
            Case(section: "xdp.frags/devmap", type: xdp, attach: BPF_XDP_DEVMAP.rawValue, required: true, frags: true),
            Case(section: "xdp/cpumap", type: xdp, attach: BPF_XDP_CPUMAP.rawValue, required: true),
            Case(section: "xdp.frags/cpumap", type: xdp, attach: BPF_XDP_CPUMAP.rawValue, required: true, frags: true),
            Case(section: "perf_event", type: BPF_PROG_TYPE_PERF_EVENT.rawValue),
            Case(section: "lwt_seg6local", type: BPF_PROG_TYPE_LWT_SEG6LOCAL.rawValue),
            Case(section: "sockops", type: BPF_PROG_TYPE_SOCK_OPS.rawValue, attach: BPF_CGROUP_SOCK_OPS.rawValue),
            Case(section: "sk_skb/stream_parser", type: BPF_PROG_TYPE_SK_SKB.rawValue,
                 attach: BPF_SK_SKB_STREAM_PARSER.rawValue),
            Case(section: "sk_skb/stream_verdict", type: BPF_PROG_TYPE_SK_SKB.rawValue,
                 attach: BPF_SK_SKB_STREAM_VERDICT.rawValue),
            Case(section: "sk_skb/verdict", type: BPF_PROG_TYPE_SK_SKB.rawValue, attach: BPF_SK_SKB_VERDICT.rawValue),
            Case(section: "sk_skb", type: BPF_PROG_TYPE_SK_SKB.rawValue),
            Case(section: "sk_msg", type: BPF_PROG_TYPE_SK_MSG.rawValue, attach: BPF_SK_MSG_VERDICT.rawValue),
            Case(section: "lirc_mode2", type: BPF_PROG_TYPE_LIRC_MODE2.rawValue, attach: BPF_LIRC_MODE2.rawValue),
            Case(section: "flow_dissector", type: BPF_PROG_TYPE_FLOW_DISSECTOR.rawValue,
                 attach: BPF_FLOW_DISSECTOR.rawValue),
            Case(section: "cgroup_skb/ingress", type: BPF_PROG_TYPE_CGROUP_SKB.rawValue,
                 attach: BPF_CGROUP_INET_INGRESS.rawValue),
            Case(section: "cgroup_skb/egress", type: BPF_PROG_TYPE_CGROUP_SKB.rawValue,
                 attach: BPF_CGROUP_INET_EGRESS.rawValue),
            Case(section: "cgroup/skb", type: BPF_PROG_TYPE_CGROUP_SKB.rawValue),
            Case(section: "cgroup/sock_create", type: BPF_PROG_TYPE_CGROUP_SOCK.rawValue,
                 attach: BPF_CGROUP_INET_SOCK_CREATE.rawValue, required: true),
            Case(section: "cgroup/sock_release", type: BPF_PROG_TYPE_CGROUP_SOCK.rawValue,
                 attach: BPF_CGROUP_INET_SOCK_RELEASE.rawValue, required: true),
            Case(section: "cgroup/sock", type: BPF_PROG_TYPE_CGROUP_SOCK.rawValue,
                 attach: BPF_CGROUP_INET_SOCK_CREATE.rawValue),
            Case(section: "cgroup/post_bind6", type: BPF_PROG_TYPE_CGROUP_SOCK.rawValue,
                 attach: BPF_CGROUP_INET6_POST_BIND.rawValue, required: true),
            Case(section: "cgroup/bind4", type: sockAddr, attach: BPF_CGROUP_INET4_BIND.rawValue, required: true),
            Case(section: "cgroup/connect6", type: sockAddr, attach: BPF_CGROUP_INET6_CONNECT.rawValue, required: true),
            Case(section: "cgroup/connect_unix", type: sockAddr, attach: 49, required: true),
            Case(section: "cgroup/sendmsg4", type: sockAddr, attach: BPF_CGROUP_UDP4_SENDMSG.rawValue, required: true),
            Case(section: "cgroup/sendmsg_unix", type: sockAddr, attach: 50, required: true),
            Case(section: "cgroup/recvmsg6", type: sockAddr, attach: BPF_CGROUP_UDP6_RECVMSG.rawValue, required: true),
            Case(section: "cgroup/recvmsg_unix", type: sockAddr, attach: 51, required: true),
            Case(section: "cgroup/getpeername4", type: sockAddr, attach: BPF_CGROUP_INET4_GETPEERNAME.rawValue,
                 required: true),
            Case(section: "cgroup/getpeername_unix", type: sockAddr, attach: 52, required: true),
            Case(section: "cgroup/getsockname6", type: sockAddr, attach: BPF_CGROUP_INET6_GETSOCKNAME.rawValue,
                 required: true),
            Case(section: "cgroup/getsockname_unix", type: sockAddr, attach: 53, required: true),
            Case(section: "cgroup/sysctl", type: BPF_PROG_TYPE_CGROUP_SYSCTL.rawValue,
                 attach: BPF_CGROUP_SYSCTL.rawValue, required: true),
            Case(section: "cgroup/getsockopt", type: BPF_PROG_TYPE_CGROUP_SOCKOPT.rawValue,
                 attach: BPF_CGROUP_GETSOCKOPT.rawValue, required: true),
            Case(section: "cgroup/setsockopt", type: BPF_PROG_TYPE_CGROUP_SOCKOPT.rawValue,
                 attach: BPF_CGROUP_SETSOCKOPT.rawValue, required: true),
            Case(section: "cgroup/dev", type: BPF_PROG_TYPE_CGROUP_DEVICE.rawValue, attach: BPF_CGROUP_DEVICE.rawValue),
            Case(section: "struct_ops/tcp_init", type: BPF_PROG_TYPE_STRUCT_OPS.rawValue, btf: true),
            Case(section: "struct_ops.s", type: BPF_PROG_TYPE_STRUCT_OPS.rawValue, sleepable: true, btf: true),
            Case(section: "sk_lookup", type: BPF_PROG_TYPE_SK_LOOKUP.rawValue, attach: BPF_SK_LOOKUP.rawValue,
                 required: true),
            Case(section: "netfilter", type: 32, attach: 45, required: true),
        ]
    }()

    @Test("a libbpf 1.x section name gives libbpf's program type and expected attach type", arguments: cases)
    func libbpfSectionNames(_ c: Case) throws {
        let kind = try #require(SectionDefinitions.kind(forSection: c.section))
        #expect(kind.type == c.type)
        #expect(kind.expectedAttachType == c.attach)
        #expect(kind.attachTypeIsExpected == c.required)
        #expect(kind.sleepable == c.sleepable)
        #expect(kind.needsAttachBTFID == c.btf)
        #expect(kind.attachTarget == c.target)
        #expect(kind.xdpHasFrags == c.frags)
        #expect(kind.typeName == SectionDefinitions.programTypeName(c.type))
        // Every name in the table resolves under libbpf's strict rules, not just leniently.
        #expect(SectionDefinitions.libbpfKind(forSection: c.section) == kind)
    }

    @Test func constantsNewerThanTheHeadersMatchTheKernelUAPI() {
        // BPF_LSM_CGROUP is the last attach type in the Linux 6.1 headers; the newer ones follow
        // it in the kernel's enum after BPF_STRUCT_OPS (44).
        #expect(BPF_LSM_CGROUP.rawValue == 43)
        #expect(BPF_PROG_TYPE_SYSCALL.rawValue + 1 == SectionDefinitions.NewerUAPI.progTypeNetfilter)
        #expect(SectionDefinitions.NewerUAPI.netfilter == 45)
        #expect(SectionDefinitions.NewerUAPI.tcxIngress == 46)
    }

    @Test func bpftoolTypeNames() {
        #expect(SectionDefinitions.kind(forSection: "socket")?.typeName == "socket_filter")
        #expect(SectionDefinitions.kind(forSection: "tc")?.typeName == "sched_cls")
        #expect(SectionDefinitions.kind(forSection: "cgroup/connect4")?.typeName == "cgroup_sock_addr")
        #expect(SectionDefinitions.kind(forSection: "raw_tp.w")?.typeName == "raw_tracepoint_writable")
        #expect(SectionDefinitions.kind(forSection: "netfilter")?.typeName == "netfilter")
        #expect(SectionDefinitions.programTypeName(BPF_PROG_TYPE_SYSCALL.rawValue) == "syscall")
        #expect(SectionDefinitions.programTypeName(99) == "type 99")
    }

    // MARK: '+', '/' and exact rules

    @Test func plusDefinitionsMatchTheBareNameWithNoTarget() throws {
        // libbpf matches SEC("tp_btf") (the target is then set with bpf_program__set_attach_target).
        let tpBTF = try #require(SectionDefinitions.kind(forSection: "tp_btf"))
        #expect(tpBTF.type == BPF_PROG_TYPE_TRACING.rawValue)
        #expect(tpBTF.expectedAttachType == BPF_TRACE_RAW_TP.rawValue)
        #expect(tpBTF.needsAttachBTFID)
        #expect(tpBTF.attachTarget == nil)
        #expect(SectionDefinitions.kind(forSection: "kprobe")?.attachTarget == nil)
        #expect(SectionDefinitions.kind(forSection: "kprobe/")?.attachTarget == nil)
    }

    @Test func plusDefinitionsNeedASlashAfterTheName() {
        #expect(SectionDefinitions.kind(forSection: "tp_btfx") == nil)
        #expect(SectionDefinitions.kind(forSection: "kprobe_do_sys_open") == nil)
        #expect(SectionDefinitions.kind(forSection: "fentryfoo") == nil)
        #expect(SectionDefinitions.kind(forSection: "lsm-file_open") == nil)
    }

    @Test func dottedVariantsAreTheirOwnDefinitions() {
        // "uprobe.s/x" must not be read as "uprobe" with target ".s/x", nor "xdp.frags" as "xdp".
        #expect(SectionDefinitions.kind(forSection: "uprobe.s/bin:f")?.sleepable == true)
        #expect(SectionDefinitions.kind(forSection: "kprobe.multi/f")?.expectedAttachType == BPF_TRACE_KPROBE_MULTI.rawValue)
        #expect(SectionDefinitions.kind(forSection: "xdp.frags")?.xdpHasFrags == true)
        #expect(SectionDefinitions.kind(forSection: "xdp")?.xdpHasFrags == false)
        #expect(SectionDefinitions.kind(forSection: "xdp")?.attachTypeIsExpected == false)
        #expect(SectionDefinitions.kind(forSection: "fentry.s/f")?.loadFlags == UInt32(BPF_F_SLEEPABLE))
        #expect(SectionDefinitions.kind(forSection: "xdp.frags")?.loadFlags == UInt32(BPF_F_XDP_HAS_FRAGS))
    }

    @Test func plainDefinitionsMatchOnlyExactlyUnderLibbpfRules() {
        #expect(SectionDefinitions.libbpfKind(forSection: "tc")?.expectedAttachType == 0)
        #expect(SectionDefinitions.libbpfKind(forSection: "tc/ingress")?.expectedAttachType == 46)
        #expect(SectionDefinitions.libbpfKind(forSection: "tc/foo") == nil)
        #expect(SectionDefinitions.libbpfKind(forSection: "socket/foo") == nil)
        #expect(SectionDefinitions.libbpfKind(forSection: "xdp_prog") == nil)
        #expect(SectionDefinitions.libbpfKind(forSection: "xdp.frags/foo") == nil)
        #expect(SectionDefinitions.libbpfKind(forSection: "cgroup/connect4x") == nil)
        #expect(SectionDefinitions.libbpfKind(forSection: "syscall/x") == nil)
    }

    @Test func leadingQuestionMarkIsIgnored() {
        #expect(SectionDefinitions.kind(forSection: "?xdp") == SectionDefinitions.kind(forSection: "xdp"))
        #expect(SectionDefinitions.kind(forSection: "?fentry/f")?.attachTarget == "f")
    }

    // MARK: Legacy names

    @Test func legacyNamesAreAcceptedAsLibbpf0xAndCiliumDo() throws {
        let socket = try #require(SectionDefinitions.kind(forSection: "socket/filter_http"))
        #expect(socket.type == BPF_PROG_TYPE_SOCKET_FILTER.rawValue)
        #expect(socket.attachTarget == "filter_http")
        #expect(SectionDefinitions.kind(forSection: "socket1")?.type == BPF_PROG_TYPE_SOCKET_FILTER.rawValue)
        #expect(SectionDefinitions.kind(forSection: "socket1")?.attachTarget == nil)
        #expect(SectionDefinitions.kind(forSection: "seccomp")?.type == BPF_PROG_TYPE_SOCKET_FILTER.rawValue)

        let xdp = try #require(SectionDefinitions.kind(forSection: "xdp/redirect"))
        #expect(xdp.type == BPF_PROG_TYPE_XDP.rawValue)
        #expect(xdp.expectedAttachType == BPF_XDP.rawValue)
        #expect(xdp.attachTarget == "redirect")
        #expect(SectionDefinitions.kind(forSection: "xdp_prog")?.type == BPF_PROG_TYPE_XDP.rawValue)
        #expect(SectionDefinitions.kind(forSection: "xdp_devmap/fwd")?.expectedAttachType == BPF_XDP_DEVMAP.rawValue)
        #expect(SectionDefinitions.kind(forSection: "xdp_cpumap/fwd")?.expectedAttachType == BPF_XDP_CPUMAP.rawValue)

        let cls = try #require(SectionDefinitions.kind(forSection: "classifier/ingress"))
        #expect(cls.type == BPF_PROG_TYPE_SCHED_CLS.rawValue)
        #expect(cls.expectedAttachType == 0)
        #expect(SectionDefinitions.kind(forSection: "sk_lookup/dispatch")?.expectedAttachType == BPF_SK_LOOKUP.rawValue)
        #expect(SectionDefinitions.kind(forSection: "cgroup_skb/ingress_filter")?.type == BPF_PROG_TYPE_CGROUP_SKB.rawValue)
        #expect(SectionDefinitions.kind(forSection: "cgroup/sock_create_x")?.expectedAttachType
            == BPF_CGROUP_INET_SOCK_CREATE.rawValue)
        // As in libbpf 0.x, the prefix rule also takes names that merely extend a known one.
        #expect(SectionDefinitions.kind(forSection: "cgroup/connect44")?.expectedAttachType
            == BPF_CGROUP_INET4_CONNECT.rawValue)
        // The slash forms cilium and old libbpf required for probes and tracepoints are libbpf 1.x names too.
        #expect(SectionDefinitions.kind(forSection: "kprobe/sys_execve")?.type == BPF_PROG_TYPE_KPROBE.rawValue)
        #expect(SectionDefinitions.kind(forSection: "raw_tracepoint/sys_enter")?.type
            == BPF_PROG_TYPE_RAW_TRACEPOINT.rawValue)
    }

    // MARK: Unknown names

    @Test(arguments: ["foo", "kprobes/do_sys_open", "xpd", "cgroup/conect4", ".text", "license", "tp_btfx", ""])
    func unknownSectionsHaveNoKindAndAHintNamingTypeKey(_ name: String) {
        #expect(SectionDefinitions.kind(forSection: name) == nil)
        let hint = SectionDefinitions.unknownSectionHint(name)
        #expect(hint.contains("`type:`"))
        #expect(hint.contains("--type"))
        #expect(hint.contains("'\(name)'"))
    }

    @Test func hintSuggestsTheNearestKnownName() {
        #expect(SectionDefinitions.unknownSectionHint("kprobes/do_sys_open").contains("did you mean 'kprobe/do_sys_open'"))
        #expect(SectionDefinitions.unknownSectionHint("xpd").contains("did you mean 'xdp'"))
        #expect(SectionDefinitions.unknownSectionHint("cgroup/conect4").contains("did you mean 'cgroup/connect4'"))
        #expect(SectionDefinitions.unknownSectionHint("kprobe_do_sys_open").contains("did you mean 'kprobe/do_sys_open'"))
        #expect(SectionDefinitions.unknownSectionHint("fentri/f").contains("`type: fentry`"))
        #expect(!SectionDefinitions.unknownSectionHint("my_custom_prog").contains("did you mean"))
    }

    @Test func editDistanceCountsATranspositionAsOneEdit() {
        #expect(SectionDefinitions.editDistance("xpd", "xdp") == 1)
        #expect(SectionDefinitions.editDistance("kprobes", "kprobe") == 1)
        #expect(SectionDefinitions.editDistance("", "abc") == 3)
        #expect(SectionDefinitions.editDistance("socket", "socket") == 0)
    }

    // MARK: Type names for pipelines

    @Test(arguments: [
        ("socket", BPF_PROG_TYPE_SOCKET_FILTER), ("socket_filter", BPF_PROG_TYPE_SOCKET_FILTER),
        ("xdp", BPF_PROG_TYPE_XDP), ("tc", BPF_PROG_TYPE_SCHED_CLS), ("sched_cls", BPF_PROG_TYPE_SCHED_CLS),
        ("classifier", BPF_PROG_TYPE_SCHED_CLS), ("sched_act", BPF_PROG_TYPE_SCHED_ACT),
        ("kprobe", BPF_PROG_TYPE_KPROBE), ("tracepoint", BPF_PROG_TYPE_TRACEPOINT),
        ("tp", BPF_PROG_TYPE_TRACEPOINT), ("raw_tracepoint", BPF_PROG_TYPE_RAW_TRACEPOINT),
        ("cgroup_skb", BPF_PROG_TYPE_CGROUP_SKB), ("cgroup_skb/ingress", BPF_PROG_TYPE_CGROUP_SKB),
        ("sock_ops", BPF_PROG_TYPE_SOCK_OPS), ("sockops", BPF_PROG_TYPE_SOCK_OPS),
        ("cgroup_sock_addr", BPF_PROG_TYPE_CGROUP_SOCK_ADDR), ("cgroup_device", BPF_PROG_TYPE_CGROUP_DEVICE),
        ("tracing", BPF_PROG_TYPE_TRACING), ("ext", BPF_PROG_TYPE_EXT), ("lsm", BPF_PROG_TYPE_LSM),
        ("syscall", BPF_PROG_TYPE_SYSCALL), (" SCHED_CLS ", BPF_PROG_TYPE_SCHED_CLS),
    ])
    func typeNamesAcceptSectionAndBpftoolSpellings(_ name: String, _ type: bpf_prog_type) {
        #expect(SectionDefinitions.kind(forTypeName: name)?.type == type.rawValue)
    }

    @Test func typeNamesKeepTheSectionsAttachTypeAndFlags() {
        #expect(SectionDefinitions.kind(forTypeName: "cgroup_skb/egress")?.expectedAttachType
            == BPF_CGROUP_INET_EGRESS.rawValue)
        #expect(SectionDefinitions.kind(forTypeName: "sk_lookup")?.expectedAttachType == BPF_SK_LOOKUP.rawValue)
        #expect(SectionDefinitions.kind(forTypeName: "syscall")?.sleepable == true)
        #expect(SectionDefinitions.kind(forTypeName: "netfilter")?.type == 32)
        // A bare bpftool type name carries no attach type, but a BTF-attached type still says so.
        #expect(SectionDefinitions.kind(forTypeName: "tracing")?.needsAttachBTFID == true)
        #expect(SectionDefinitions.kind(forTypeName: "sched_cls")?.attachTypeIsExpected == false)
        #expect(SectionDefinitions.kind(forTypeName: "sched_cls")?.typeName == "sched_cls")
    }

    @Test(arguments: ["", "unspec", "socketfilter", "tcp", "sched-cls", "xdp_prog"])
    func unknownTypeNamesHaveNoKind(_ name: String) {
        #expect(SectionDefinitions.kind(forTypeName: name) == nil)
    }
}
