import CBPFSys
#if canImport(Glibc)
import Glibc
#endif

// linux/if_link.h's XDP_FLAGS_SKB_MODE and XDP_FLAGS_DRV_MODE (CBPFSys does not include it).
private let xdpSKBMode: UInt32 = 1 << 1
private let xdpDriverMode: UInt32 = 1 << 2

/// Makes the kernel objects behind one link: the perf event, the ifindex, the cgroup fd.
struct LinkAttacher {
    let program: FileDescriptor
    let kind: ProgramKind?
    let section: String
    let fail: (String, Errno?, String?) -> LoaderError

    init(program: FileDescriptor, kind: ProgramKind?, section: String,
         fail: @escaping (String, Errno?, _ hint: String?) -> LoaderError) {
        self.program = program
        self.kind = kind
        self.section = section
        self.fail = fail
    }

    func attach(_ target: LinkTarget) throws -> FileDescriptor {
        switch target {
        case .uprobe(let u): return try uprobe(u, target)
        case .kprobe(let function, let offset, let isReturn): return try kprobe(function, offset, isReturn, target)
        case .tracepoint(let category, let name): return try tracepoint(category, name, target)
        case .rawTracepoint(let name):
            return try kernel(BPFCommand.openRawTracepoint(program: program, name: name), target,
                              notFound: "no raw tracepoint '\(name)' in this kernel")
        case .tracing:
            if kind?.expectedAttachType == BPF_TRACE_ITER.rawValue {
                return try kernel(BPFCommand.createLink(program: program, target: 0, attachType: BPF_TRACE_ITER.rawValue), target)
            }
            return try kernel(BPFCommand.openRawTracepoint(program: program, name: nil), target)
        case .xdp(let interface, let mode):
            let flags: UInt32 = switch mode {
            case .auto: 0
            case .native: xdpDriverMode
            case .generic: xdpSKBMode
            }
            return try kernel(BPFCommand.createLink(program: program, target: try ifindex(interface, target),
                                                    attachType: BPF_XDP.rawValue, flags: flags), target,
                              busyHint: "another XDP program is attached to \(interface); detach it first")
        case .tcx(let interface, let direction):
            let type = direction == .ingress ? SectionDefinitions.NewerUAPI.tcxIngress : SectionDefinitions.NewerUAPI.tcxEgress
            return try kernel(BPFCommand.createLink(program: program, target: try ifindex(interface, target), attachType: type), target)
        case .cgroup(let path, let attachType):
            return try cgroup(path, attachType, target)
        }
    }

    /// The kernel's answer, as a link fd or an error naming the target.
    private func kernel(_ result: Result<FileDescriptor, Errno>, _ target: LinkTarget,
                        notFound: String? = nil, busyHint: String? = nil) throws -> FileDescriptor {
        switch result {
        case .success(let fd): return fd
        case .failure(let e) where e == .noSuchFile && notFound != nil:
            throw fail("cannot attach to \(target): \(notFound!)", e, nil)
        case .failure(let e):
            let typeName = kind?.typeName ?? "unknown type"
            let hint: String? = switch e {
            case .invalidArgument: "the kernel refused a \(typeName) program (section '\(section)') for \(target); check that the section matches the target"
            case Errno(rawValue: EBUSY), .fileExists: busyHint
            case .notSupported:
                if case .xdp(let interface, .native) = target {
                    "the driver of \(interface) has no native XDP; use mode generic (or auto)"
                } else { nil }
            default: nil
            }
            throw fail("cannot attach to \(target)", e, hint)
        }
    }

    private func uprobe(_ u: UprobeTarget, _ target: LinkTarget) throws -> FileDescriptor {
        guard let type = PerfEvent.pmuType("uprobe") else {
            throw fail("cannot attach to \(target): uprobes are not available on this kernel (no uprobe PMU in \(PerfEvent.pmuDirectory))", .notSupported, nil)
        }
        var offset = u.offset
        if let function = u.function {
            switch UprobeSymbols.fileOffset(of: function, in: u.binary) {
            case .success(let o): offset = o &+ u.offset
            case .failure(.cannotOpen(let e)):
                throw fail("cannot attach to \(target): cannot open binary \(u.binary)", e, nil)
            case .failure(.notELF(let why)):
                throw fail("cannot attach to \(target): \(u.binary) is not an ELF executable or shared object (\(why))", nil, nil)
            case .failure(.noSymbol):
                throw fail("cannot attach to \(target): function '\(function)' not found in \(u.binary) (.symtab and .dynsym)", .noSuchFile,
                           "check the name with: nm -D \(u.binary); nm \(u.binary)")
            case .failure(.notInSegment(let address)):
                throw fail("cannot attach to \(target): function '\(function)' at 0x\(String(address, radix: 16)) lies in no loadable segment of \(u.binary)", nil, nil)
            }
        } else if case .failure(let e) = sysOpen(u.binary, O_RDONLY | O_CLOEXEC).map({ sysClose($0) }) {
            throw fail("cannot attach to \(target): cannot open binary \(u.binary)", e, nil)
        }
        let config = u.isReturn ? try returnBit("uprobe", target) : 0
        let perf = try perfEvent(PerfEvent.openProbe(type: type, config: config, path: u.binary, offset: offset, pid: u.pid), target)
        return try kernel(BPFCommand.createLink(program: program, target: UInt32(bitPattern: perf.rawValue), attachType: BPF_PERF_EVENT.rawValue), target)
    }

    private func kprobe(_ function: String, _ offset: UInt64, _ isReturn: Bool, _ target: LinkTarget) throws -> FileDescriptor {
        guard let type = PerfEvent.pmuType("kprobe") else {
            throw fail("cannot attach to \(target): kprobes are not available on this kernel (no kprobe PMU in \(PerfEvent.pmuDirectory))", .notSupported,
                       "use a tracepoint, raw tracepoint or tp_btf program instead")
        }
        let config = isReturn ? try returnBit("kprobe", target) : 0
        let perf = try perfEvent(PerfEvent.openProbe(type: type, config: config, path: function, offset: offset, pid: nil), target)
        return try kernel(BPFCommand.createLink(program: program, target: UInt32(bitPattern: perf.rawValue), attachType: BPF_PERF_EVENT.rawValue), target)
    }

    private func tracepoint(_ category: String, _ name: String, _ target: LinkTarget) throws -> FileDescriptor {
        let id: UInt64?
        do {
            id = try Tracefs.eventID(category: category, name: name)
        } catch let e as LoaderError {
            throw fail("cannot attach to \(target): \(e.location.map { "\($0): " } ?? "")\(e.message)", e.errno, e.hint)
        }
        guard let id else {
            throw fail("cannot attach to \(target): no tracepoint '\(category)/\(name)' in this kernel (no \(Tracefs.mountPoint)/events/\(category)/\(name))",
                       .noSuchFile, "the available ones are listed in \(Tracefs.mountPoint)/available_events")
        }
        let perf = try perfEvent(PerfEvent.openTracepoint(id: id), target)
        return try kernel(BPFCommand.createLink(program: program, target: UInt32(bitPattern: perf.rawValue), attachType: BPF_PERF_EVENT.rawValue), target)
    }

    private func returnBit(_ pmu: String, _ target: LinkTarget) throws -> UInt64 {
        guard let bit = PerfEvent.returnProbeBit(pmu) else {
            throw fail("cannot attach to \(target): the \(pmu) PMU has no retprobe format bit", .notSupported, nil)
        }
        return 1 << bit
    }

    /// The perf event fd; the link takes its own reference, so the caller's copy may close.
    private func perfEvent(_ result: Result<FileDescriptor, Errno>, _ target: LinkTarget) throws -> FileDescriptor {
        switch result {
        case .success(let fd): return fd
        case .failure(let e):
            throw fail("cannot attach to \(target): perf_event_open failed", e,
                       e == .invalidArgument ? "the offset may not be at an instruction, or the binary is on a filesystem uprobes cannot use" : nil)
        }
    }

    private func ifindex(_ interface: String, _ target: LinkTarget) throws -> UInt32 {
        let index = if_nametoindex(interface)
        guard index != 0 else {
            throw fail("cannot attach to \(target): no network interface '\(interface)'", Errno(rawValue: ENODEV),
                       "list interfaces with: ip link")
        }
        return index
    }

    private func cgroup(_ path: String, _ explicit: UInt32?, _ target: LinkTarget) throws -> FileDescriptor {
        let attachType: UInt32
        if let explicit {
            attachType = explicit
        } else if let kind, kind.expectedAttachType != 0 || section.hasPrefix("cgroup_skb/ingress") {
            attachType = kind.expectedAttachType
        } else {
            throw fail("cannot attach to \(target): section '\(section)' names no cgroup attach type", .invalidArgument,
                       "give the attach type explicitly, or use a section such as cgroup/sock_create or cgroup_skb/egress")
        }
        let cgroupFD: FileDescriptor
        switch sysOpen(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) {
        case .success(let fd): cgroupFD = FileDescriptor(adopting: fd)
        case .failure(let e): throw fail("cannot attach to \(target): no cgroup at \(path)", e, nil)
        }
        return try kernel(BPFCommand.createLink(program: program, target: UInt32(bitPattern: cgroupFD.rawValue), attachType: attachType), target,
                          notFound: nil)
    }
}
