/// Prints eBPF instructions in the syntax of the kernel's verifier log and of
/// `bpftool prog dump xlated` (the kernel's `kernel/bpf/disasm.c`, `print_bpf_insn`):
/// `(79) r1 = *(u64 *)(r1 +8)`, `(85) call bpf_map_lookup_elem#1`, `(05) goto pc+3`.
/// Written from the kernel's format strings, one instruction class at a time; what differs
/// between "before load" and "what the kernel holds" (map references, call targets) is left to
/// `Naming`, as bpftool's callbacks do.
public struct Disassembler: Sendable {
    /// How `ld_imm64` map references read.
    public enum MapNaming: Sendable {
        /// `imm` is a kernel map id, as in what the kernel hands back: `map[id:5]`, `map[id:5][0]+8`.
        case kernelIDs
        /// `imm` indexes this list of map names (code relocated without creating maps):
        /// `map[counts]`, `map[.rodata][0]+8`.
        case names([String])
        /// A name for each `imm` (a loaded object: fd → `id:N`); unknown values print as numbers.
        case table([Int32: String])
    }

    public var maps: MapNaming
    /// Asked for a call the helper table does not name (bpftool's `cb_call`): kernel symbols for
    /// what the kernel holds. Returning nil falls back to the disassembler's own spelling.
    public var callName: (@Sendable (Instruction) -> String?)?

    public init(maps: MapNaming = .kernelIDs, callName: (@Sendable (Instruction) -> String?)? = nil) {
        self.maps = maps
        self.callName = callName
    }

    /// One instruction, with its opcode byte in front: `(bf) r6 = r1`. `next` is the second slot
    /// of an `ld_imm64`.
    public func text(_ insn: Instruction, next: Instruction? = nil) -> String {
        let code = "(\(Self.hex2(insn.opcode))) "
        switch insn.opcode & 0x07 {
        case 0x04, 0x07: return code + alu(insn)
        case 0x03: return stx(insn, code: code)
        case 0x02:
            switch insn.opcode & 0xe0 {
            case 0x60: return code + "*(\(Self.size(insn)) *)(r\(insn.dst) \(Self.signed(insn.offset))) = \(insn.immediate)"
            case 0xc0: return code + "nospec"
            default: return "BUG_st_\(Self.hex2(insn.opcode))"
            }
        case 0x01:
            let mode = insn.opcode & 0xe0
            guard mode == 0x60 || mode == 0x80 else { return "BUG_ldx_\(Self.hex2(insn.opcode))" }
            let size = mode == 0x60 ? Self.size(insn) : Self.signedSize(insn)
            return code + "r\(insn.dst) = *(\(size) *)(r\(insn.src) \(Self.signed(insn.offset)))"
        case 0x00: return ld(insn, next: next, code: code)
        default: return code + jump(insn)
        }
    }

    // MARK: - Classes

    private static let aluOps = ["+=", "-=", "*=", "/=", "|=", "&=", "<<=", ">>=", "neg", "%=", "^=", "=", "s>>=", "endian", "?", "?"]
    private static let jumpOps = ["jmp", "==", ">", ">=", "&", "!=", "s>", "s>=", "call", "exit", "<", "<=", "s<", "s<=", "?", "?"]

    private func alu(_ insn: Instruction) -> String {
        let is32 = insn.opcode & 0x07 == 0x04
        let r: Character = is32 ? "w" : "r"
        let op = Int(insn.opcode >> 4)
        let fromRegister = insn.opcode & 0x08 != 0
        switch op {
        case 0xd:   // BPF_END: BPF_ALU picks the byte order in the source bit; BPF_ALU64 swaps.
            if is32 { return "r\(insn.dst) = \(fromRegister ? "be" : "le")\(insn.immediate) r\(insn.dst)" }
            return "r\(insn.dst) = bswap\(insn.immediate) r\(insn.dst)"
        case 0x8:
            return "\(r)\(insn.dst) = -\(r)\(insn.dst)"
        default: break
        }
        // sdiv/smod are div/mod with offset 1; movsx is mov with offset 8, 16 or 32.
        let signedDivision = (op == 0x3 || op == 0x9) && insn.offset == 1
        let opText = signedDivision ? (op == 0x3 ? "s/=" : "s%=") : Self.aluOps[op]
        if fromRegister {
            if !is32 && op == 0xb && insn.offset == 1 {   // BPF_ADDR_SPACE_CAST
                let imm = UInt32(bitPattern: insn.immediate)
                return "r\(insn.dst) = addr_space_cast(r\(insn.src), \(imm >> 16), \(imm & 0xffff))"
            }
            var cast = ""
            if op == 0xb, [8, 16, 32].contains(insn.offset) { cast = "(s\(insn.offset))" }
            return "\(r)\(insn.dst) \(opText) \(cast)\(r)\(insn.src)"
        }
        return "\(r)\(insn.dst) \(opText) \(insn.immediate)"
    }

    private func stx(_ insn: Instruction, code: String) -> String {
        let size = Self.size(insn)
        let mem = "(\(size) *)(r\(insn.dst) \(Self.signed(insn.offset)))"
        switch insn.opcode & 0xe0 {
        case 0x60: return code + "*\(mem) = r\(insn.src)"
        case 0xc0: break
        default: return "BUG_\(Self.hex2(insn.opcode))"
        }
        // BPF_ATOMIC: the operation is in imm (an ALU op, BPF_FETCH = 0x01, xchg, cmpxchg, acquire/release).
        let wide = insn.opcode & 0x18 == 0x18 ? "64" : ""
        let aluNames: [Int32: String] = [0x00: "add", 0x40: "or", 0x50: "and", 0xa0: "xor"]
        switch insn.immediate {
        case 0x00, 0x40, 0x50, 0xa0:
            return code + "lock *\(mem) \(Self.aluOps[Int(insn.immediate >> 4)]) r\(insn.src)"
        case 0x01, 0x41, 0x51, 0xa1:
            return code + "r\(insn.src) = atomic\(wide)_fetch_\(aluNames[insn.immediate & ~1]!)(\(mem), r\(insn.src))"
        case 0xf1:
            return code + "r0 = atomic\(wide)_cmpxchg(\(mem), r0, r\(insn.src))"
        case 0xe1:
            return code + "r\(insn.src) = atomic\(wide)_xchg(\(mem), r\(insn.src))"
        case 0x100:   // BPF_LOAD_ACQ: dst gets the load, src is the address.
            return code + "r\(insn.dst) = load_acquire((\(size) *)(r\(insn.src) \(Self.signed(insn.offset))))"
        case 0x110:   // BPF_STORE_REL
            return code + "store_release(\(mem), r\(insn.src))"
        default:
            return "BUG_\(Self.hex2(insn.opcode))"
        }
    }

    private func ld(_ insn: Instruction, next: Instruction?, code: String) -> String {
        switch insn.opcode & 0xe0 {
        case 0x20: return code + "r0 = *(\(Self.size(insn)) *)skb[\(insn.immediate)]"
        case 0x40: return code + "r0 = *(\(Self.size(insn)) *)skb[r\(insn.src) + \(insn.immediate)]"
        case 0x00 where insn.opcode & 0x18 == 0x18:
            let high = UInt64(UInt32(bitPattern: next?.immediate ?? 0))
            let full = high << 32 | UInt64(UInt32(bitPattern: insn.immediate))
            return code + "r\(insn.dst) = " + immediate64(insn, next: next, full: full)
        default: return "BUG_ld_\(Self.hex2(insn.opcode))"
        }
    }

    /// bpftool's `print_imm`: map references by id (or name), callbacks as `subprog[+N]`, the rest in hex.
    private func immediate64(_ insn: Instruction, next: Instruction?, full: UInt64) -> String {
        let offset = next?.immediate ?? 0
        switch insn.src {
        case Instruction.pseudoMapFD: return "map[\(mapName(insn.immediate))]"
        case Instruction.pseudoMapValue: return "map[\(mapName(insn.immediate))][0]+\(offset)"
        case 6: return "map[idx:\(insn.immediate)]+\(offset)"   // BPF_PSEUDO_MAP_IDX_VALUE
        case Instruction.pseudoFunc: return "subprog[\(Self.signed(insn.immediate))]"
        default: return "0x" + String(full, radix: 16)
        }
    }

    private func mapName(_ imm: Int32) -> String {
        switch maps {
        case .kernelIDs: return "id:\(imm)"
        case .names(let names): return imm >= 0 && Int(imm) < names.count ? names[Int(imm)] : "\(imm)"
        case .table(let table): return table[imm] ?? "\(imm)"
        }
    }

    private func jump(_ insn: Instruction) -> String {
        let is32 = insn.opcode & 0x07 == 0x06
        let op = Int(insn.opcode >> 4)
        if op == 0x8 {
            let name = callTarget(insn)
            return insn.src == Instruction.pseudoCall ? "call pc\(name)" : "call \(name)#\(insn.immediate)"
        }
        switch insn.opcode {
        case 0x05: return "goto pc\(Self.signed(insn.offset))"
        case 0x0d: return "gotox r\(insn.dst)"
        case 0xe5 where insn.src == 0: return "may_goto pc\(Self.signed(insn.offset))"
        case 0x06: return "gotol pc\(Self.signed(insn.immediate))"
        case 0x95: return "exit"
        default: break
        }
        let r: Character = is32 ? "w" : "r"
        if insn.opcode & 0x08 != 0 {
            return "if \(r)\(insn.dst) \(Self.jumpOps[op]) \(r)\(insn.src) goto pc\(Self.signed(insn.offset))"
        }
        return "if \(r)\(insn.dst) \(Self.jumpOps[op]) 0x\(String(UInt32(bitPattern: insn.immediate), radix: 16)) goto pc\(Self.signed(insn.offset))"
    }

    /// disasm.c's `__func_get_name`: the helper table for plain helper calls, then `callName`,
    /// then `+N` for a subprogram call, `kernel-function` for a kfunc, else `unknown`.
    private func callTarget(_ insn: Instruction) -> String {
        if insn.src == 0, let name = HelperNames.name(insn.immediate) { return name }
        if let callName, let name = callName(insn) { return name }
        switch insn.src {
        case Instruction.pseudoCall: return Self.signed(insn.immediate)
        case Instruction.pseudoKfuncCall: return "kernel-function"
        default: return "unknown"
        }
    }

    // MARK: - Formatting pieces

    private static func size(_ insn: Instruction) -> String { ["u32", "u16", "u8", "u64"][Int(insn.opcode >> 3) & 3] }
    private static func signedSize(_ insn: Instruction) -> String { ["s32", "s16", "s8", "s64"][Int(insn.opcode >> 3) & 3] }

    /// printf's `%+d`.
    static func signed<T: BinaryInteger>(_ v: T) -> String { v < 0 ? "\(v)" : "+\(v)" }

    /// printf's `%02x`.
    static func hex2(_ v: UInt8) -> String { v < 16 ? "0" + String(v, radix: 16) : String(v, radix: 16) }
}
