/// Writes a resolved CO-RE value into the instruction the compiler marked (libbpf
/// `bpf_core_patch_insn`): the immediate of an ALU op, the offset of a load/store (and its width
/// when the kernel's field is wider or narrower), or the 64-bit value of an `ld_imm64`.
enum COREPatch {
    /// libbpf's marker helper id ("bad relo"): the verifier reports `invalid func unknown#195896080`
    /// only if the instruction is reachable, so guarded dead code still loads.
    static let poisonHelperID: Int32 = 0xbad2310

    private static let classLD: UInt8 = 0x00, classLDX: UInt8 = 0x01, classST: UInt8 = 0x02, classSTX: UInt8 = 0x03
    private static let classALU: UInt8 = 0x04, classALU64: UInt8 = 0x07
    private static let sourceX: UInt8 = 0x08
    /// Load/store width bits, by byte count.
    private static let widths: [Int: UInt8] = [4: 0x00, 2: 0x08, 1: 0x10, 8: 0x18]

    /// Patches `code[i]`; returns whether it was poisoned instead.
    static func apply(_ r: COREResult, to code: inout [Instruction], at i: Int) throws(COREFailure) -> Bool {
        if r.poison {
            poison(&code, at: i)
            return true
        }
        var insn = code[i]
        switch insn.opcode & Instruction.classMask {
        case classALU, classALU64:
            guard insn.opcode & sourceX == 0 else { throw COREFailure("instruction \(i) is an ALU op on a register, not an immediate") }
            try check(UInt64(bitPattern: Int64(insn.immediate)), r, at: i)
            insn.immediate = Int32(truncatingIfNeeded: r.new)
        case classLDX, classST, classSTX:
            try check(UInt64(bitPattern: Int64(insn.offset)), r, at: i)
            guard r.new <= UInt64(Int16.max) else { throw COREFailure("offset \(r.new) does not fit instruction \(i)'s 16-bit offset") }
            if r.sizeChangeUnsafe {
                // The kernel's field has another width and a load of another width would misread it.
                poison(&code, at: i)
                return true
            }
            insn.offset = Int16(r.new)
            if r.newSize != r.originalSize { insn.opcode = try resized(insn.opcode, r, at: i) }
        case classLD:
            guard insn.isLoadImm64, i + 1 < code.count, insn.src == 0, insn.offset == 0,
                  code[i + 1].opcode == 0, code[i + 1].registers == 0, code[i + 1].offset == 0 else {
                throw COREFailure("instruction \(i) is not a plain 64-bit immediate load")
            }
            try check(UInt64(UInt32(bitPattern: insn.immediate)) | UInt64(UInt32(bitPattern: code[i + 1].immediate)) << 32, r, at: i)
            insn.immediate = Int32(truncatingIfNeeded: r.new)
            code[i + 1].immediate = Int32(truncatingIfNeeded: r.new >> 32)
        default:
            throw COREFailure("instruction \(i) (opcode 0x\(String(insn.opcode, radix: 16))) cannot carry a CO-RE value")
        }
        code[i] = insn
        return false
    }

    /// The compiler wrote the local value; anything else means the record and the code disagree.
    private static func check(_ found: UInt64, _ r: COREResult, at i: Int) throws(COREFailure) {
        guard !r.validate || found == r.original else {
            throw COREFailure("instruction \(i) holds \(Int64(bitPattern: found)), expected the compiler's \(r.original) (to become \(r.new))")
        }
    }

    private static func resized(_ opcode: UInt8, _ r: COREResult, at i: Int) throws(COREFailure) -> UInt8 {
        guard widths[r.originalSize] == opcode & 0x18 else {
            throw COREFailure("instruction \(i) accesses memory with another width than the \(r.originalSize)-byte field")
        }
        guard let width = widths[r.newSize] else { throw COREFailure("kernel field width \(r.newSize) cannot be loaded by one instruction") }
        return (opcode & ~0x18) | width
    }

    /// Replaces the instruction (both halves of an `ld_imm64`) with a call to the marker helper,
    /// keeping the instruction count so that jumps stay valid.
    private static func poison(_ code: inout [Instruction], at i: Int) {
        let call = Instruction(opcode: Instruction.callOpcode, immediate: poisonHelperID)
        if code[i].isLoadImm64 && i + 1 < code.count { code[i + 1] = call }
        code[i] = call
    }
}
