/// One eBPF instruction, laid out exactly like the kernel's `struct bpf_insn` (8 bytes, little-endian).
public struct Instruction: Equatable, Hashable, Sendable {
    public var opcode: UInt8
    /// dst_reg in the low nibble, src_reg in the high nibble, as the kernel packs them.
    public var registers: UInt8
    public var offset: Int16
    public var immediate: Int32

    public init(opcode: UInt8, dst: UInt8 = 0, src: UInt8 = 0, offset: Int16 = 0, immediate: Int32 = 0) {
        self.opcode = opcode
        self.registers = (dst & 0x0f) | (src << 4)
        self.offset = offset
        self.immediate = immediate
    }

    public var dst: UInt8 {
        get { registers & 0x0f }
        set { registers = (registers & 0xf0) | (newValue & 0x0f) }
    }

    public var src: UInt8 {
        get { registers >> 4 }
        set { registers = (registers & 0x0f) | (newValue << 4) }
    }

    /// Decodes instructions from little-endian bytes; the count must be a whole number of instructions.
    static func decode(_ bytes: ArraySlice<UInt8>) -> [Instruction] {
        precondition(bytes.count % 8 == 0)
        var out: [Instruction] = []
        out.reserveCapacity(bytes.count / 8)
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let off = Int16(bitPattern: UInt16(bytes[i + 2]) | UInt16(bytes[i + 3]) << 8)
            let imm = UInt32(bytes[i + 4]) | UInt32(bytes[i + 5]) << 8 | UInt32(bytes[i + 6]) << 16 | UInt32(bytes[i + 7]) << 24
            var insn = Instruction(opcode: bytes[i], offset: off, immediate: Int32(bitPattern: imm))
            insn.registers = bytes[i + 1]
            out.append(insn)
            i += 8
        }
        return out
    }
}

extension Instruction {
    // Opcode pieces the loader reasons about.
    static let classMask: UInt8 = 0x07
    static let classLD: UInt8 = 0x00
    static let classJMP: UInt8 = 0x05
    static let classJMP32: UInt8 = 0x06
    static let opCall: UInt8 = 0x80
    static let opExit: UInt8 = 0x90
    static let opJA: UInt8 = 0x00

    /// `BPF_LD | BPF_IMM | BPF_DW`: the first half of a 16-byte load.
    public static let loadImm64Opcode: UInt8 = 0x18
    public static let callOpcode: UInt8 = 0x85
    public static let exitOpcode: UInt8 = 0x95

    /// `src_reg` values that give an instruction a meaning beyond its opcode.
    public static let pseudoMapFD: UInt8 = 1
    public static let pseudoMapValue: UInt8 = 2
    public static let pseudoBTFID: UInt8 = 3
    public static let pseudoCall: UInt8 = 1
    public static let pseudoKfuncCall: UInt8 = 2
    public static let pseudoFunc: UInt8 = 4

    public var isLoadImm64: Bool { opcode == Instruction.loadImm64Opcode }
    public var isCall: Bool { opcode == Instruction.callOpcode }
    public var isPseudoCall: Bool { isCall && src == Instruction.pseudoCall }
    public var isPseudoFunc: Bool { isLoadImm64 && src == Instruction.pseudoFunc }

    /// A jump whose `offset` (or, for `gotol`, `immediate`) is relative to the next instruction.
    var isRelativeJump: Bool {
        let cls = opcode & Instruction.classMask
        guard cls == Instruction.classJMP || cls == Instruction.classJMP32 else { return false }
        let op = opcode & 0xf0
        return op != Instruction.opCall && op != Instruction.opExit
    }

    /// `gotol`: BPF_JMP32 | BPF_JA keeps its target in `immediate`.
    var isLongJump: Bool { opcode == (Instruction.classJMP32 | Instruction.opJA) }

    /// Builds `dst = imm64` as its two slots.
    public static func loadImm64(dst: UInt8, _ value: UInt64, src: UInt8 = 0) -> [Instruction] {
        [Instruction(opcode: loadImm64Opcode, dst: dst, src: src, immediate: Int32(truncatingIfNeeded: value)),
         Instruction(opcode: 0, immediate: Int32(truncatingIfNeeded: value >> 32))]
    }

    /// `dst = imm` (64-bit move of a sign-extended 32-bit immediate).
    public static func mov64(dst: UInt8, immediate: Int32) -> Instruction {
        Instruction(opcode: 0xb7, dst: dst, immediate: immediate)
    }

    /// `dst = src` (64-bit register move).
    public static func mov64(dst: UInt8, src: UInt8) -> Instruction {
        Instruction(opcode: 0xbf, dst: dst, src: src)
    }

    public static let exit = Instruction(opcode: exitOpcode)
}
