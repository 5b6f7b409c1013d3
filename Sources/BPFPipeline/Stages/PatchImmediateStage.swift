import BPFLoader
import Logging

/// `patch-imm`: every constant operand equal to the marker (default 0x0badcafe) gets the
/// instance's value (`values[n]`, or `n` itself when no values are given). Only immediates that
/// are data are touched: ALU/MOV operands, jump comparison operands and plain `ld_imm64`
/// constants; never a map or function reference, a helper or subprogram call, a byte swap's
/// width or a jump target, where the same number means something else.
struct PatchImmediateStage: Stage {
    static let defaultMarker: Int64 = 0x0badcafe
    let label = "stage patch-imm"
    let marker: Int32
    let values: [Int32]?
    let logger: Logger?

    init(_ env: StageEnvironment) throws {
        let label = self.label
        let f = try StageFactory.fields(env, known: ["marker", "values"], label: label)
        let m = try f.read("marker") { try $0.int() } ?? PatchImmediateStage.defaultMarker
        guard let m32 = Int32(exactly: m) ?? (m >= 0 && m <= Int64(UInt32.max) ? Int32(truncatingIfNeeded: m) : nil) else {
            throw PipelineError(at: f.optional("marker")!.mark, "\(label): marker \(m) does not fit in a 32-bit immediate")
        }
        marker = m32
        logger = env.logger
        values = try StageFactory.perInstance(f, "values", env: env, label: label)?.map { node in
            let v = try node.int()
            guard let v32 = Int32(exactly: v) ?? (v >= 0 && v <= Int64(UInt32.max) ? Int32(truncatingIfNeeded: v) : nil) else {
                throw PipelineError(at: node.mark, "\(label): \(v) does not fit in a 32-bit immediate")
            }
            return v32
        }
    }

    func apply(_ ctx: PreprocessContext, _ insns: [Instruction]) throws -> [Instruction]? {
        let value = values?[ctx.instance] ?? Int32(ctx.instance)
        var out = insns
        var patched = 0
        var i = 0
        while i < out.count {
            if out[i].immediate == marker && PatchImmediateStage.holdsConstant(out[i]) {
                out[i].immediate = value
                patched += 1
            }
            i += out[i].isLoadImm64 ? 2 : 1
        }
        let hex = "0x" + String(UInt32(bitPattern: marker), radix: 16)
        if patched == 0 {
            throw StageFailure("marker \(hex) does not occur as a constant in program '\(ctx.program)'")
        }
        logger?.info("patch-imm patched \(patched) immediate(s)", metadata: [
            "step": "preprocess", "object": "\(ctx.object)", "program": "\(ctx.program)",
            "instance": .stringConvertible(ctx.instance), "marker": "\(hex)", "patched": .stringConvertible(patched),
        ])
        return out
    }

    /// Whether an instruction's immediate is a constant the program computes with.
    static func holdsConstant(_ insn: Instruction) -> Bool {
        if insn.isLoadImm64 { return insn.src == 0 }
        let cls = insn.opcode & 0x07, op = insn.opcode & 0xf0
        let usesImmediate = insn.opcode & 0x08 == 0 // BPF_K
        switch cls {
        case 0x04, 0x07: // ALU, ALU64: not NEG (no operand) nor END (imm is the width)
            return usesImmediate && op != 0x80 && op != 0xd0
        case 0x05, 0x06: // JMP, JMP32: comparisons only, not ja/gotol, call or exit
            return usesImmediate && op != 0x00 && op != 0x80 && op != 0x90
        default:
            return false
        }
    }
}
