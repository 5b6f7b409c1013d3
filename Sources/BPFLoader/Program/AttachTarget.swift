import CBPFSys

/// The `attach_btf_id` a tracing, LSM or iterator program must be loaded with: the kernel
/// function, tracepoint or hook its section names, looked up in kernel BTF by the name the kernel
/// gives it (`btf_trace_<tp>`, `bpf_lsm_<hook>`, `bpf_iter_<name>`, or the function itself).
enum AttachTarget {
    /// `overridden`: the target was set with `Program.setAttachTarget` (pipeline `attach-to`),
    /// not taken from the section, which the error then says.
    static func btfID(for kind: ProgramKind, section: String, overridden: Bool = false) throws -> UInt32? {
        guard kind.needsAttachBTFID else { return nil }
        guard let (name, btfKind) = kernelName(kind) else { return nil }
        guard let found = try KernelBTF.find(name, kind: btfKind) else {
            if overridden {
                throw LoaderError(.open, "attach-to target '\(kind.attachTarget ?? "")' not found: kernel BTF has no \(btfKind) '\(name)'",
                                  errno: .noSuchFile, hint: "name a \(kind.attachTargetWord) that exists in this kernel (see /sys/kernel/btf/vmlinux)")
            }
            throw LoaderError(.load, at: "section '\(section)'", "attach target '\(kind.attachTarget ?? "")' not found: kernel BTF has no \(btfKind) '\(name)'",
                              hint: "check the name after the '/' in the section; it must exist in this kernel")
        }
        guard found.table.base == nil else {
            // A module's BTF id also needs that module's BTF fd (attach_btf_obj_fd).
            throw LoaderError(.load, at: "section '\(section)'", "attach target '\(name)' is in module '\(found.table.label)'; module targets are not supported yet")
        }
        return found.id
    }

    /// Whether a target can be named for this kind of program (libbpf's
    /// `bpf_program__set_attach_target` without a target program: tracing and LSM programs).
    static func acceptsTarget(_ kind: ProgramKind) -> Bool {
        kind.needsAttachBTFID && (kind.type == BPF_PROG_TYPE_TRACING.rawValue || kind.type == BPF_PROG_TYPE_LSM.rawValue)
    }

    /// The kernel BTF name and kind that a program's section target stands for.
    static func kernelName(_ kind: ProgramKind) -> (String, BTFKind)? {
        guard let target = kind.attachTarget, !target.isEmpty else { return nil }
        switch (kind.type, kind.expectedAttachType) {
        case (BPF_PROG_TYPE_TRACING.rawValue, BPF_TRACE_RAW_TP.rawValue):
            return ("btf_trace_" + target, .typedef)
        case (BPF_PROG_TYPE_TRACING.rawValue, BPF_TRACE_ITER.rawValue):
            return ("bpf_iter_" + target, .func)
        case (BPF_PROG_TYPE_TRACING.rawValue, _):
            // fentry, fexit, fmod_ret: the function itself.
            return (target, .func)
        case (BPF_PROG_TYPE_LSM.rawValue, _):
            return ("bpf_lsm_" + target, .func)
        default:
            return nil
        }
    }
}

extension ProgramKind {
    /// What the attach target of this kind of program names, for messages.
    var attachTargetWord: String {
        switch (type, expectedAttachType) {
        case (BPF_PROG_TYPE_TRACING.rawValue, BPF_TRACE_RAW_TP.rawValue): "tracepoint"
        case (BPF_PROG_TYPE_TRACING.rawValue, BPF_TRACE_ITER.rawValue): "BPF iterator"
        case (BPF_PROG_TYPE_LSM.rawValue, _): "LSM hook"
        default: "kernel function"
        }
    }
}
