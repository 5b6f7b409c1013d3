import CBPFSys

/// bpf(2) commands that make, change and describe BPF links.
extension BPFCommand {
    /// BPF_LINK_CREATE. `target` is an fd (cgroup, perf event) or an ifindex (XDP, tcx), as the
    /// attach type wants; `flags` are XDP's mode flags and nothing else here.
    static func createLink(program: FileDescriptor, target: UInt32, attachType: UInt32, flags: UInt32 = 0) -> Result<FileDescriptor, Errno> {
        var attr = bpf_attr()
        attr.link_create.prog_fd = UInt32(bitPattern: program.rawValue)
        // The first union of link_create: target_fd and target_ifindex share the slot. The tcx
        // fields that newer kernels put in the second union (relative_fd, expected_revision) are
        // left zero: attach last, whatever the revision.
        attr.link_create.target_fd = target
        attr.link_create.attach_type = attachType
        attr.link_create.flags = flags
        return sysBPF(BPF_LINK_CREATE, &attr).map(FileDescriptor.init(adopting:))
    }

    /// BPF_RAW_TRACEPOINT_OPEN: a raw tracepoint by name, or (name nil) a tracing/LSM program
    /// whose target was fixed at load by attach_btf_id. Returns a link fd.
    static func openRawTracepoint(program: FileDescriptor, name: String?) -> Result<FileDescriptor, Errno> {
        func open(_ namePointer: UnsafePointer<CChar>?) -> Result<FileDescriptor, Errno> {
            var attr = bpf_attr()
            attr.raw_tracepoint.name = UInt64(UInt(bitPattern: namePointer))
            attr.raw_tracepoint.prog_fd = UInt32(bitPattern: program.rawValue)
            return sysBPF(BPF_RAW_TRACEPOINT_OPEN, &attr).map(FileDescriptor.init(adopting:))
        }
        guard let name else { return open(nil) }
        return name.withCString { open($0) }
    }

    /// BPF_LINK_UPDATE: swaps the link's program in place, with no moment where neither runs.
    static func updateLink(_ link: FileDescriptor, program: FileDescriptor) -> Result<Void, Errno> {
        var attr = bpf_attr()
        attr.link_update.link_fd = UInt32(bitPattern: link.rawValue)
        attr.link_update.new_prog_fd = UInt32(bitPattern: program.rawValue)
        return sysBPF(BPF_LINK_UPDATE, &attr).map { _ in () }
    }

    /// BPF_LINK_DETACH: detaches a link while fds or pins to it still exist.
    static func detachLink(_ link: FileDescriptor) -> Result<Void, Errno> {
        var attr = bpf_attr()
        attr.link_detach.link_fd = UInt32(bitPattern: link.rawValue)
        return sysBPF(BPF_LINK_DETACH, &attr).map { _ in () }
    }

    static func linkInfo(_ fd: FileDescriptor) -> Result<bpf_link_info, Errno> {
        objectInfo(fd, bpf_link_info())
    }
}
