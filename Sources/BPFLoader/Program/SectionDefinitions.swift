import CBPFSys

/// What a program's ELF section name (or a pipeline's `type:`) says about how to load it:
/// the values `BPF_PROG_LOAD` needs before any attach target is resolved.
public struct ProgramKind: Sendable, Equatable {
    /// `enum bpf_prog_type` value, e.g. `BPF_PROG_TYPE_XDP`.
    public var type: UInt32
    /// `enum bpf_attach_type` value for `expected_attach_type`; 0 when the definition names none
    /// (0 is also `BPF_CGROUP_INET_INGRESS`, which only `cgroup_skb/ingress` means).
    public var expectedAttachType: UInt32
    /// True when the kernel must be given `expectedAttachType` for the load to succeed.
    /// False when there is none, or when libbpf marks it optional (`SEC_EXP_ATTACH_OPT`): kernels
    /// older than 4.17 reject a non-zero `expected_attach_type` for those types, so a loader may
    /// retry with 0.
    public var attachTypeIsExpected: Bool
    /// The program may sleep; load it with `BPF_F_SLEEPABLE`.
    public var sleepable: Bool
    /// `BPF_PROG_LOAD` needs `attach_btf_id` (tp_btf, fentry/fexit/fmod_ret, freplace, lsm, iter,
    /// struct_ops). For struct_ops the id comes from the `.struct_ops` map, not from the section name.
    public var needsAttachBTFID: Bool
    /// What follows the definition's prefix and its `/`, e.g. "sched_switch" for
    /// `tp_btf/sched_switch`, "sched/sched_switch" for `tp/sched/sched_switch`; nil when empty.
    public var attachTarget: String?
    /// The program type as bpftool prints it, e.g. "socket_filter", "sched_cls", "xdp".
    public var typeName: String
    /// An XDP program that accepts multi-buffer packets (`xdp.frags`); load it with `BPF_F_XDP_HAS_FRAGS`.
    public var xdpHasFrags: Bool

    /// Creates a kind; `typeName` defaults to bpftool's name for `type`.
    public init(
        type: UInt32,
        expectedAttachType: UInt32 = 0,
        attachTypeIsExpected: Bool = false,
        sleepable: Bool = false,
        needsAttachBTFID: Bool = false,
        attachTarget: String? = nil,
        typeName: String? = nil,
        xdpHasFrags: Bool = false
    ) {
        self.type = type
        self.expectedAttachType = expectedAttachType
        self.attachTypeIsExpected = attachTypeIsExpected
        self.sleepable = sleepable
        self.needsAttachBTFID = needsAttachBTFID
        self.attachTarget = attachTarget
        self.typeName = typeName ?? SectionDefinitions.programTypeName(type)
        self.xdpHasFrags = xdpHasFrags
    }

    /// The `prog_flags` of `BPF_PROG_LOAD` this kind asks for.
    public var loadFlags: UInt32 {
        (sleepable ? UInt32(BPF_F_SLEEPABLE) : 0) | (xdpHasFrags ? UInt32(BPF_F_XDP_HAS_FRAGS) : 0)
    }
}

/// The mapping from ELF section names to program kinds, following libbpf 1.x's `section_defs[]`
/// (src/libbpf.c, as of v1.7.0; documented in libbpf docs/program_types.rst), with a lenient
/// fallback for the legacy names libbpf 0.x, cilium/ebpf and iproute2 objects use.
public enum SectionDefinitions {
    /// The kind for a program in section `name`, or nil when the name is unknown.
    ///
    /// libbpf 1.x's rules are tried first, in its table order: a definition ending in `/` needs a
    /// suffix after it, one ending in `+` matches the bare name or `name/...`, any other matches
    /// exactly. Failing that, legacy names are accepted as libbpf 0.x and cilium/ebpf do: a
    /// plain definition also matches as a prefix (`socket1`, `xdp_prog`, `classifier/ingress`),
    /// plus `xdp_devmap/`, `xdp_cpumap/` and `seccomp`. A leading `?` (libbpf's "don't autoload")
    /// should be stripped by the caller; it is ignored here too.
    public static func kind(forSection name: String) -> ProgramKind? {
        let name = name.hasPrefix("?") ? String(name.dropFirst()) : name
        return libbpfKind(forSection: name) ?? legacyKind(forSection: name)
    }

    /// The kind for a pipeline's `type:` (or the CLI's `--type`): either a libbpf section name or
    /// prefix ("socket", "xdp", "tc", "kprobe", "cgroup_skb/ingress") or a program type name as
    /// bpftool prints it ("socket_filter", "sched_cls", "tracepoint", "cgroup_sock_addr").
    ///
    /// Section names win because they also carry the expected attach type; a bare type name
    /// carries none, so for types that need one (cgroup_sock_addr, cgroup_sockopt, tracing, ...)
    /// prefer the section spelling, e.g. `cgroup/connect4` or `fentry/<function>`.
    public static func kind(forTypeName name: String) -> ProgramKind? {
        let name = name.trimmingWhitespace().lowercased()
        if name.isEmpty { return nil }
        if let kind = libbpfKind(forSection: name) { return kind }
        guard let type = programTypeNames.firstIndex(of: name), type > 0 else { return nil }
        let raw = UInt32(type)
        return ProgramKind(type: raw, needsAttachBTFID: typesNeedingAttachBTFID.contains(raw))
    }

    /// A message for a program section no definition matches: the nearest known name when there
    /// is a plausible one, and how to declare the type instead.
    public static func unknownSectionHint(_ name: String) -> String {
        let name = name.hasPrefix("?") ? String(name.dropFirst()) : name
        let declare = "declare its type with `type:` in the pipeline (or --type on the CLI)"
        let head = "section '\(name)' does not name a known program type"
        if let (suggestion, typeSpelling) = nearestKnownName(to: name) {
            return "\(head); did you mean '\(suggestion)'? Otherwise \(declare), e.g. `type: \(typeSpelling)`."
        }
        return "\(head) (libbpf names look like 'xdp', 'tc/ingress', 'kprobe/<function>', "
            + "'tracepoint/<category>/<name>'); rename it or \(declare), e.g. `type: socket_filter`."
    }
}

// MARK: - The table

extension SectionDefinitions {
    /// One row of libbpf's `section_defs[]`.
    struct Definition: Sendable {
        /// How a section name is compared with `prefix`.
        enum Match: Sendable {
            /// `name`: the section name equals it.
            case exact
            /// `name+`: the section name equals it or continues with `/`.
            case exactOrSlash
            /// `name/`: the section name continues with `/` (the suffix may be empty).
            case slashRequired
        }

        /// libbpf's `sec_def_flags`, as far as they change what is loaded.
        struct Flags: OptionSet, Sendable {
            let rawValue: UInt8
            /// `SEC_EXP_ATTACH_OPT`: the expected attach type may be dropped on old kernels.
            static let attachOptional = Flags(rawValue: 1 << 0)
            /// `SEC_ATTACH_BTF`: the target is a BTF id (kernel function, tracepoint, LSM hook, ...).
            static let attachBTF = Flags(rawValue: 1 << 1)
            /// `SEC_SLEEPABLE`.
            static let sleepable = Flags(rawValue: 1 << 2)
            /// `SEC_XDP_FRAGS`.
            static let xdpFrags = Flags(rawValue: 1 << 3)
        }

        /// The name without its trailing `+` or `/`.
        let prefix: String
        let match: Match
        let type: UInt32
        let attachType: UInt32
        let flags: Flags

        /// `pattern` is spelled as in libbpf: "kprobe+", "xdp_devmap/", "cgroup/connect4".
        init(_ pattern: String, _ type: bpf_prog_type, _ attachType: UInt32 = 0, _ flags: Flags = []) {
            self.init(pattern, rawType: type.rawValue, attachType, flags)
        }

        init(_ pattern: String, rawType: UInt32, _ attachType: UInt32 = 0, _ flags: Flags = []) {
            switch pattern.last {
            case "+": (prefix, match) = (String(pattern.dropLast()), .exactOrSlash)
            case "/": (prefix, match) = (String(pattern.dropLast()), .slashRequired)
            default: (prefix, match) = (pattern, .exact)
            }
            self.type = rawType
            self.attachType = attachType
            self.flags = flags
        }

        /// The text after `prefix` when `name` matches under libbpf's rules, else nil.
        /// An exact match yields "" (nothing follows the prefix).
        func remainder(ofStrict name: String) -> Substring? {
            guard name.hasPrefix(prefix) else { return nil }
            let rest = name.dropFirst(prefix.count)
            switch match {
            case .exact: return rest.isEmpty ? rest : nil
            case .exactOrSlash: return rest.isEmpty || rest.first == "/" ? rest : nil
            case .slashRequired: return rest.first == "/" ? rest : nil
            }
        }

        /// The kind for a section name that matched, given what followed the prefix.
        func kind(remainder: Substring) -> ProgramKind {
            // Only a `/`-separated suffix names a target; legacy prefix matches like `socket1` have none.
            var target: String? = nil
            if remainder.first == "/", remainder.count > 1 { target = String(remainder.dropFirst()) }
            // libbpf ignores the name in struct_ops/<name>; the member it implements decides.
            if type == BPF_PROG_TYPE_STRUCT_OPS.rawValue { target = nil }
            return ProgramKind(
                type: type,
                expectedAttachType: attachType,
                attachTypeIsExpected: attachType != 0 && !flags.contains(.attachOptional),
                sleepable: flags.contains(.sleepable),
                needsAttachBTFID: flags.contains(.attachBTF) || type == BPF_PROG_TYPE_STRUCT_OPS.rawValue,
                attachTarget: target,
                xdpHasFrags: flags.contains(.xdpFrags)
            )
        }
    }
}

extension SectionDefinitions {
    /// UAPI constants newer than the Linux 6.1 headers CBPFSys is built against
    /// (values from include/uapi/linux/bpf.h in Linux 6.19 / libbpf v1.7.0).
    enum NewerUAPI {
        static let progTypeNetfilter: UInt32 = 32        // BPF_PROG_TYPE_NETFILTER, Linux 6.4
        static let netfilter: UInt32 = 45                // BPF_NETFILTER, Linux 6.4
        static let tcxIngress: UInt32 = 46               // BPF_TCX_INGRESS, Linux 6.6
        static let tcxEgress: UInt32 = 47                // BPF_TCX_EGRESS, Linux 6.6
        static let traceUprobeMulti: UInt32 = 48         // BPF_TRACE_UPROBE_MULTI, Linux 6.6
        static let cgroupUnixConnect: UInt32 = 49        // BPF_CGROUP_UNIX_CONNECT, Linux 6.7
        static let cgroupUnixSendmsg: UInt32 = 50        // BPF_CGROUP_UNIX_SENDMSG, Linux 6.7
        static let cgroupUnixRecvmsg: UInt32 = 51        // BPF_CGROUP_UNIX_RECVMSG, Linux 6.7
        static let cgroupUnixGetpeername: UInt32 = 52    // BPF_CGROUP_UNIX_GETPEERNAME, Linux 6.7
        static let cgroupUnixGetsockname: UInt32 = 53    // BPF_CGROUP_UNIX_GETSOCKNAME, Linux 6.7
        static let netkitPrimary: UInt32 = 54            // BPF_NETKIT_PRIMARY, Linux 6.7
        static let netkitPeer: UInt32 = 55               // BPF_NETKIT_PEER, Linux 6.7
        static let traceKprobeSession: UInt32 = 56       // BPF_TRACE_KPROBE_SESSION, Linux 6.10
        static let traceUprobeSession: UInt32 = 57       // BPF_TRACE_UPROBE_SESSION, Linux 6.13
        static let traceFsession: UInt32 = 58            // BPF_TRACE_FSESSION, Linux 6.19
    }
}

extension SectionDefinitions {
    /// libbpf v1.7.0's `section_defs[]`, in its order: the first match wins, so longer names
    /// (`xdp.frags/devmap`, `sk_skb/stream_parser`, `cgroup/sock_create`) precede shorter ones.
    /// Not yet here: the sleepable tracepoints and `fentry.multi`-style sections of libbpf's
    /// development branch, which are in no release.
    static let libbpfTable: [Definition] = {
        typealias D = Definition
        let opt = D.Flags.attachOptional, btf = D.Flags.attachBTF
        let sleep = D.Flags.sleepable, frags = D.Flags.xdpFrags
        let sockAddr = BPF_PROG_TYPE_CGROUP_SOCK_ADDR
        let u = NewerUAPI.self
        return [
            D("socket", BPF_PROG_TYPE_SOCKET_FILTER),
            D("sk_reuseport/migrate", BPF_PROG_TYPE_SK_REUSEPORT, BPF_SK_REUSEPORT_SELECT_OR_MIGRATE.rawValue),
            D("sk_reuseport", BPF_PROG_TYPE_SK_REUSEPORT, BPF_SK_REUSEPORT_SELECT.rawValue),
            D("kprobe+", BPF_PROG_TYPE_KPROBE),
            D("uprobe+", BPF_PROG_TYPE_KPROBE),
            D("uprobe.s+", BPF_PROG_TYPE_KPROBE, 0, sleep),
            D("kretprobe+", BPF_PROG_TYPE_KPROBE),
            D("uretprobe+", BPF_PROG_TYPE_KPROBE),
            D("uretprobe.s+", BPF_PROG_TYPE_KPROBE, 0, sleep),
            D("kprobe.multi+", BPF_PROG_TYPE_KPROBE, BPF_TRACE_KPROBE_MULTI.rawValue),
            D("kretprobe.multi+", BPF_PROG_TYPE_KPROBE, BPF_TRACE_KPROBE_MULTI.rawValue),
            D("kprobe.session+", BPF_PROG_TYPE_KPROBE, u.traceKprobeSession),
            D("uprobe.multi+", BPF_PROG_TYPE_KPROBE, u.traceUprobeMulti),
            D("uretprobe.multi+", BPF_PROG_TYPE_KPROBE, u.traceUprobeMulti),
            D("uprobe.session+", BPF_PROG_TYPE_KPROBE, u.traceUprobeSession),
            D("uprobe.multi.s+", BPF_PROG_TYPE_KPROBE, u.traceUprobeMulti, sleep),
            D("uretprobe.multi.s+", BPF_PROG_TYPE_KPROBE, u.traceUprobeMulti, sleep),
            D("uprobe.session.s+", BPF_PROG_TYPE_KPROBE, u.traceUprobeSession, sleep),
            D("ksyscall+", BPF_PROG_TYPE_KPROBE),
            D("kretsyscall+", BPF_PROG_TYPE_KPROBE),
            // libbpf switches USDT programs to BPF_TRACE_UPROBE_MULTI when the kernel has
            // uprobe_multi links; that is an attach-time choice, so the table says 0.
            D("usdt+", BPF_PROG_TYPE_KPROBE),
            D("usdt.s+", BPF_PROG_TYPE_KPROBE, 0, sleep),
            D("tc/ingress", BPF_PROG_TYPE_SCHED_CLS, u.tcxIngress),
            D("tc/egress", BPF_PROG_TYPE_SCHED_CLS, u.tcxEgress),
            D("tcx/ingress", BPF_PROG_TYPE_SCHED_CLS, u.tcxIngress),
            D("tcx/egress", BPF_PROG_TYPE_SCHED_CLS, u.tcxEgress),
            D("tc", BPF_PROG_TYPE_SCHED_CLS),
            D("classifier", BPF_PROG_TYPE_SCHED_CLS),
            D("action", BPF_PROG_TYPE_SCHED_ACT),
            D("netkit/primary", BPF_PROG_TYPE_SCHED_CLS, u.netkitPrimary),
            D("netkit/peer", BPF_PROG_TYPE_SCHED_CLS, u.netkitPeer),
            D("tracepoint+", BPF_PROG_TYPE_TRACEPOINT),
            D("tp+", BPF_PROG_TYPE_TRACEPOINT),
            D("raw_tracepoint+", BPF_PROG_TYPE_RAW_TRACEPOINT),
            D("raw_tp+", BPF_PROG_TYPE_RAW_TRACEPOINT),
            D("raw_tracepoint.w+", BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE),
            D("raw_tp.w+", BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE),
            D("tp_btf+", BPF_PROG_TYPE_TRACING, BPF_TRACE_RAW_TP.rawValue, btf),
            D("fentry+", BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY.rawValue, btf),
            D("fmod_ret+", BPF_PROG_TYPE_TRACING, BPF_MODIFY_RETURN.rawValue, btf),
            D("fexit+", BPF_PROG_TYPE_TRACING, BPF_TRACE_FEXIT.rawValue, btf),
            D("fentry.s+", BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY.rawValue, [btf, sleep]),
            D("fmod_ret.s+", BPF_PROG_TYPE_TRACING, BPF_MODIFY_RETURN.rawValue, [btf, sleep]),
            D("fexit.s+", BPF_PROG_TYPE_TRACING, BPF_TRACE_FEXIT.rawValue, [btf, sleep]),
            D("fsession+", BPF_PROG_TYPE_TRACING, u.traceFsession, btf),
            D("fsession.s+", BPF_PROG_TYPE_TRACING, u.traceFsession, [btf, sleep]),
            D("freplace+", BPF_PROG_TYPE_EXT, 0, btf),
            D("lsm+", BPF_PROG_TYPE_LSM, BPF_LSM_MAC.rawValue, btf),
            D("lsm.s+", BPF_PROG_TYPE_LSM, BPF_LSM_MAC.rawValue, [btf, sleep]),
            D("lsm_cgroup+", BPF_PROG_TYPE_LSM, BPF_LSM_CGROUP.rawValue, btf),
            D("iter+", BPF_PROG_TYPE_TRACING, BPF_TRACE_ITER.rawValue, btf),
            D("iter.s+", BPF_PROG_TYPE_TRACING, BPF_TRACE_ITER.rawValue, [btf, sleep]),
            D("syscall", BPF_PROG_TYPE_SYSCALL, 0, sleep),
            D("xdp.frags/devmap", BPF_PROG_TYPE_XDP, BPF_XDP_DEVMAP.rawValue, frags),
            D("xdp/devmap", BPF_PROG_TYPE_XDP, BPF_XDP_DEVMAP.rawValue),
            D("xdp.frags/cpumap", BPF_PROG_TYPE_XDP, BPF_XDP_CPUMAP.rawValue, frags),
            D("xdp/cpumap", BPF_PROG_TYPE_XDP, BPF_XDP_CPUMAP.rawValue),
            D("xdp.frags", BPF_PROG_TYPE_XDP, BPF_XDP.rawValue, frags),
            D("xdp", BPF_PROG_TYPE_XDP, BPF_XDP.rawValue, opt),
            D("perf_event", BPF_PROG_TYPE_PERF_EVENT),
            D("lwt_in", BPF_PROG_TYPE_LWT_IN),
            D("lwt_out", BPF_PROG_TYPE_LWT_OUT),
            D("lwt_xmit", BPF_PROG_TYPE_LWT_XMIT),
            D("lwt_seg6local", BPF_PROG_TYPE_LWT_SEG6LOCAL),
            D("sockops", BPF_PROG_TYPE_SOCK_OPS, BPF_CGROUP_SOCK_OPS.rawValue, opt),
            D("sk_skb/stream_parser", BPF_PROG_TYPE_SK_SKB, BPF_SK_SKB_STREAM_PARSER.rawValue, opt),
            D("sk_skb/stream_verdict", BPF_PROG_TYPE_SK_SKB, BPF_SK_SKB_STREAM_VERDICT.rawValue, opt),
            D("sk_skb/verdict", BPF_PROG_TYPE_SK_SKB, BPF_SK_SKB_VERDICT.rawValue, opt),
            D("sk_skb", BPF_PROG_TYPE_SK_SKB),
            D("sk_msg", BPF_PROG_TYPE_SK_MSG, BPF_SK_MSG_VERDICT.rawValue, opt),
            D("lirc_mode2", BPF_PROG_TYPE_LIRC_MODE2, BPF_LIRC_MODE2.rawValue, opt),
            D("flow_dissector", BPF_PROG_TYPE_FLOW_DISSECTOR, BPF_FLOW_DISSECTOR.rawValue, opt),
            D("cgroup_skb/ingress", BPF_PROG_TYPE_CGROUP_SKB, BPF_CGROUP_INET_INGRESS.rawValue, opt),
            D("cgroup_skb/egress", BPF_PROG_TYPE_CGROUP_SKB, BPF_CGROUP_INET_EGRESS.rawValue, opt),
            D("cgroup/skb", BPF_PROG_TYPE_CGROUP_SKB),
            D("cgroup/sock_create", BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_CREATE.rawValue),
            D("cgroup/sock_release", BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_RELEASE.rawValue),
            D("cgroup/sock", BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_CREATE.rawValue, opt),
            D("cgroup/post_bind4", BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET4_POST_BIND.rawValue),
            D("cgroup/post_bind6", BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET6_POST_BIND.rawValue),
            D("cgroup/bind4", sockAddr, BPF_CGROUP_INET4_BIND.rawValue),
            D("cgroup/bind6", sockAddr, BPF_CGROUP_INET6_BIND.rawValue),
            D("cgroup/connect4", sockAddr, BPF_CGROUP_INET4_CONNECT.rawValue),
            D("cgroup/connect6", sockAddr, BPF_CGROUP_INET6_CONNECT.rawValue),
            D("cgroup/connect_unix", sockAddr, u.cgroupUnixConnect),
            D("cgroup/sendmsg4", sockAddr, BPF_CGROUP_UDP4_SENDMSG.rawValue),
            D("cgroup/sendmsg6", sockAddr, BPF_CGROUP_UDP6_SENDMSG.rawValue),
            D("cgroup/sendmsg_unix", sockAddr, u.cgroupUnixSendmsg),
            D("cgroup/recvmsg4", sockAddr, BPF_CGROUP_UDP4_RECVMSG.rawValue),
            D("cgroup/recvmsg6", sockAddr, BPF_CGROUP_UDP6_RECVMSG.rawValue),
            D("cgroup/recvmsg_unix", sockAddr, u.cgroupUnixRecvmsg),
            D("cgroup/getpeername4", sockAddr, BPF_CGROUP_INET4_GETPEERNAME.rawValue),
            D("cgroup/getpeername6", sockAddr, BPF_CGROUP_INET6_GETPEERNAME.rawValue),
            D("cgroup/getpeername_unix", sockAddr, u.cgroupUnixGetpeername),
            D("cgroup/getsockname4", sockAddr, BPF_CGROUP_INET4_GETSOCKNAME.rawValue),
            D("cgroup/getsockname6", sockAddr, BPF_CGROUP_INET6_GETSOCKNAME.rawValue),
            D("cgroup/getsockname_unix", sockAddr, u.cgroupUnixGetsockname),
            D("cgroup/sysctl", BPF_PROG_TYPE_CGROUP_SYSCTL, BPF_CGROUP_SYSCTL.rawValue),
            D("cgroup/getsockopt", BPF_PROG_TYPE_CGROUP_SOCKOPT, BPF_CGROUP_GETSOCKOPT.rawValue),
            D("cgroup/setsockopt", BPF_PROG_TYPE_CGROUP_SOCKOPT, BPF_CGROUP_SETSOCKOPT.rawValue),
            D("cgroup/dev", BPF_PROG_TYPE_CGROUP_DEVICE, BPF_CGROUP_DEVICE.rawValue, opt),
            D("struct_ops+", BPF_PROG_TYPE_STRUCT_OPS),
            D("struct_ops.s+", BPF_PROG_TYPE_STRUCT_OPS, 0, sleep),
            D("sk_lookup", BPF_PROG_TYPE_SK_LOOKUP, BPF_SK_LOOKUP.rawValue),
            D("netfilter", rawType: u.progTypeNetfilter, u.netfilter),
        ]
    }()

    /// Names libbpf 1.x dropped but older objects still carry: libbpf 0.x's `xdp_devmap/` and
    /// `xdp_cpumap/`, and early cilium/ebpf's `seccomp` (a socket filter). Tried before the
    /// prefix rule so that `xdp_devmap/x` is not taken for plain `xdp`.
    static let legacyTable: [Definition] = [
        Definition("xdp_devmap/", BPF_PROG_TYPE_XDP, BPF_XDP_DEVMAP.rawValue),
        Definition("xdp_cpumap/", BPF_PROG_TYPE_XDP, BPF_XDP_CPUMAP.rawValue),
        Definition("seccomp", BPF_PROG_TYPE_SOCKET_FILTER),
    ]

    /// bpftool's names for `enum bpf_prog_type`, indexed by value (libbpf `prog_type_name[]`).
    static let programTypeNames: [String] = [
        "unspec", "socket_filter", "kprobe", "sched_cls", "sched_act", "tracepoint", "xdp",
        "perf_event", "cgroup_skb", "cgroup_sock", "lwt_in", "lwt_out", "lwt_xmit", "sock_ops",
        "sk_skb", "cgroup_device", "sk_msg", "raw_tracepoint", "cgroup_sock_addr", "lwt_seg6local",
        "lirc_mode2", "sk_reuseport", "flow_dissector", "cgroup_sysctl", "raw_tracepoint_writable",
        "cgroup_sockopt", "tracing", "struct_ops", "ext", "lsm", "sk_lookup", "syscall", "netfilter",
    ]

    /// Types whose loads always carry `attach_btf_id`, whatever the section says.
    static let typesNeedingAttachBTFID: Set<UInt32> = [
        BPF_PROG_TYPE_TRACING.rawValue, BPF_PROG_TYPE_EXT.rawValue,
        BPF_PROG_TYPE_LSM.rawValue, BPF_PROG_TYPE_STRUCT_OPS.rawValue,
    ]

    /// bpftool's name for a program type, or "type <n>" for one newer than this table.
    static func programTypeName(_ type: UInt32) -> String {
        type < programTypeNames.count ? programTypeNames[Int(type)] : "type \(type)"
    }

    // MARK: Matching

    /// libbpf 1.x's lookup (`find_sec_def`): the first definition that matches strictly.
    static func libbpfKind(forSection name: String) -> ProgramKind? {
        for definition in libbpfTable {
            if let rest = definition.remainder(ofStrict: name) { return definition.kind(remainder: rest) }
        }
        return nil
    }

    /// The lenient lookup of libbpf 0.x (`SEC_SLOPPY_PFX`) and cilium/ebpf (`matchSectionName`):
    /// the legacy definitions, then every plain libbpf definition as a bare prefix.
    static func legacyKind(forSection name: String) -> ProgramKind? {
        for definition in legacyTable {
            if let rest = definition.remainder(ofStrict: name) ?? definition.remainder(ofPrefix: name) {
                return definition.kind(remainder: rest)
            }
        }
        for definition in libbpfTable where definition.match == .exact {
            if let rest = definition.remainder(ofPrefix: name) { return definition.kind(remainder: rest) }
        }
        return nil
    }
}

extension SectionDefinitions.Definition {
    /// The text after `prefix` when `name` merely starts with it (plain definitions only).
    func remainder(ofPrefix name: String) -> Substring? {
        guard match == .exact, name.hasPrefix(prefix) else { return nil }
        return name.dropFirst(prefix.count)
    }
}

// MARK: - Hints

extension SectionDefinitions {
    /// The known section name closest to `name`, and how to spell its type in a pipeline.
    static func nearestKnownName(to name: String) -> (suggestion: String, typeSpelling: String)? {
        let slash = name.firstIndex(of: "/")
        let head = slash.map { String(name[..<$0]) } ?? name
        let suffix = slash.map { String(name[name.index(after: $0)...]) } ?? ""

        var best: (score: Int, suggestion: String, spelling: String)? = nil
        for definition in libbpfTable {
            guard let candidate = definition.candidate(head: head, suffix: suffix, fullName: name) else { continue }
            if best == nil || candidate.score < best!.score {
                best = (candidate.score, candidate.suggestion, definition.prefix)
            }
        }
        return best.map { ($0.suggestion, $0.spelling) }
    }
}

extension SectionDefinitions.Definition {
    /// How close `fullName` is to this definition (lower is closer) and the name to suggest;
    /// nil when it is too far to be a plausible typo.
    fileprivate func candidate(head: String, suffix: String, fullName: String) -> (score: Int, suggestion: String)? {
        switch match {
        case .exactOrSlash, .slashRequired:
            let target = suffix.isEmpty ? "<target>" : suffix
            // `kprobe_do_sys_open`: the right prefix with the wrong separator.
            if suffix.isEmpty, head.hasPrefix(prefix), let sep = head.dropFirst(prefix.count).first,
               "_-.:".contains(sep) {
                let rest = head.dropFirst(prefix.count + 1)
                return (1, "\(prefix)/\(rest.isEmpty ? "<target>" : String(rest))")
            }
            let distance = SectionDefinitions.editDistance(head, prefix)
            return distance <= typoAllowance(prefix) ? (distance, "\(prefix)/\(target)") : nil
        case .exact:
            // Compare what is comparable: `cgroup/connect44` with `cgroup/connect4`, `xpd` with `xdp`.
            let compared = prefix.contains("/") ? fullName : head
            let distance = SectionDefinitions.editDistance(compared, prefix)
            return distance <= typoAllowance(prefix) ? (distance, prefix) : nil
        }
    }

    private func typoAllowance(_ word: String) -> Int {
        word.count <= 3 ? 1 : 2
    }
}

extension SectionDefinitions {
    /// Optimal-string-alignment distance between the UTF-8 bytes of `a` and `b`.
    public static func editDistance(_ a: String, _ b: String) -> Int {
        editDistance(Array(a.utf8), Array(b.utf8))
    }

    /// Optimal-string-alignment distance: insertions, deletions, substitutions and adjacent
    /// transpositions each cost 1, so "xpd" is one edit from "xdp".
    public static func editDistance<Element: Equatable>(_ a: [Element], _ b: [Element]) -> Int {
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], previous2[j - 2] + 1)
                }
            }
            (previous2, previous, current) = (previous, current, previous2)
        }
        return previous[b.count]
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and newlines (no Foundation needed).
    fileprivate func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let start = firstIndex(where: { !isSpace($0) }),
              let end = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[start...end])
    }
}
