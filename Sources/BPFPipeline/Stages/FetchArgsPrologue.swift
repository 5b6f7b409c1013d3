import BPFLoader

/// The code `fetch-args` puts in front of a program, after perf's BPF prologue: on entry r1 is
/// the context (pt_regs); the body then finds r1 unchanged, r2 = 0 (or 1 if a read failed) and
/// its arguments in r3, r4, r5 (0 where none is given), as if called as
/// `prog(ctx, err, a1, a2, a3)`.
///
/// Registers only (no helper call, nothing to fail):
///
///     r3 = *(u64 *)(r1 + 112)        ; each argument straight from the context
///     r4 = 0  r5 = 0  r2 = 0
///
/// With dereferences, helper calls clobber r1-r5, so the context waits in r6 and argument i
/// is read into the stack slot r10 - 8(i+1):
///
///     r6 = r1
///     r3 = *(u64 *)(r6 + 104)        ; the address: register + offset
///     r3 += 8
///     r1 = r10
///     r1 += -16                      ; argument 1's slot
///     r2 = 4                         ; its size
///     call 112                       ; bpf_probe_read_user (113: bpf_probe_read_kernel)
///     if r0 != 0 goto fail
///     ...                            ; the next dereference
///     r3 = *(u64 *)(r6 + 112)        ; register arguments from the context,
///     r4 = *(u32 *)(r10 - 16)        ; read ones from their slots, zero-extended by the load
///     r5 = 0
///     r2 = 0
///     goto +4                        ; over the fail block
///   fail:
///     r2 = 1  r3 = 0  r4 = 0  r5 = 0
///     r1 = r6                        ; both paths: the context back in r1
///   body:
///
/// Only r6 and the argument slots are clobbered; the body's own code never relies on either
/// holding something at entry (the verifier refuses reads of what it did not write).
enum FetchArgsPrologue {
    static let probeReadUser: Int32 = 112
    static let probeReadKernel: Int32 = 113
    static let maxArguments = 3

    static func instructions(_ specs: [FetchArgSpec], helper: Int32) -> [Instruction] {
        precondition(specs.count <= maxArguments)
        let argument = { (i: Int) -> UInt8 in UInt8(3 + i) }
        func load(_ dst: UInt8, _ base: UInt8, _ offset: Int16, _ size: FetchArgSpec.Size) -> Instruction {
            Instruction(opcode: 0x61 | sizeBits(size), dst: dst, src: base, offset: offset)
        }
        let slot = { (i: Int) -> Int16 in Int16(-8 * (i + 1)) }
        guard specs.contains(where: { $0.dereference != nil }) else {
            var out: [Instruction] = []
            for i in 0..<maxArguments {
                if i < specs.count {
                    out.append(load(argument(i), 1, specs[i].contextOffset, specs[i].size))
                } else {
                    out.append(.mov64(dst: argument(i), immediate: 0))
                }
            }
            out.append(.mov64(dst: 2, immediate: 0))
            return out
        }

        var out: [Instruction] = [.mov64(dst: 6, src: 1)]
        var failJumps: [Int] = []
        for (i, spec) in specs.enumerated() {
            guard let offset = spec.dereference else { continue }
            out.append(load(3, 6, spec.contextOffset, .u64))
            if offset != 0 { out.append(Instruction(opcode: 0x07, dst: 3, immediate: offset)) }
            out.append(.mov64(dst: 1, src: 10))
            out.append(Instruction(opcode: 0x07, dst: 1, immediate: Int32(slot(i))))
            out.append(.mov64(dst: 2, immediate: Int32(spec.size.rawValue)))
            out.append(Instruction(opcode: Instruction.callOpcode, immediate: helper))
            failJumps.append(out.count)
            out.append(Instruction(opcode: 0x55, dst: 0))   // if r0 != 0 goto fail (offset set below)
        }
        for i in 0..<maxArguments {
            if i < specs.count {
                let spec = specs[i]
                out.append(spec.dereference == nil ? load(argument(i), 6, spec.contextOffset, spec.size)
                                                   : load(argument(i), 10, slot(i), spec.size))
            } else {
                out.append(.mov64(dst: argument(i), immediate: 0))
            }
        }
        out.append(.mov64(dst: 2, immediate: 0))
        let failBlock: [Instruction] = [.mov64(dst: 2, immediate: 1)] + (0..<maxArguments).map { .mov64(dst: argument($0), immediate: 0) }
        out.append(Instruction(opcode: 0x05, offset: Int16(failBlock.count)))   // goto over the fail block
        let fail = out.count
        for j in failJumps { out[j].offset = Int16(fail - j - 1) }
        out += failBlock
        out.append(.mov64(dst: 1, src: 6))
        return out
    }

    /// BPF_W, BPF_H, BPF_B, BPF_DW: the size bits of an LDX opcode.
    private static func sizeBits(_ size: FetchArgSpec.Size) -> UInt8 {
        switch size {
        case .u32: 0x00
        case .u16: 0x08
        case .u8: 0x10
        case .u64: 0x18
        }
    }

    /// bpf_probe_read_user for programs that run on user-space probes (their addresses are the
    /// probed process's), bpf_probe_read_kernel for everything else.
    static func helper(forSection section: String) -> Int32 {
        let user = ["uprobe", "uretprobe", "usdt"].contains { section == $0 || section.hasPrefix($0 + "/") || section.hasPrefix($0 + ".") }
        return user ? probeReadUser : probeReadKernel
    }
}
