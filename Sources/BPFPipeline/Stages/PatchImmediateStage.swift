import BPFLoader

/// `patch-imm`: every instruction whose immediate is the marker (default 0x0badcafe) gets the
/// instance's value (`values[n]`, or `n` itself when no values are given).
struct PatchImmediateStage: Stage {
    static let defaultMarker: Int64 = 0x0badcafe
    let label = "stage patch-imm"
    let marker: Int32
    let values: [Int32]?

    init(_ env: StageEnvironment) throws {
        let label = self.label
        let f = try StageFactory.fields(env, known: ["marker", "values"], label: label)
        let m = try f.read("marker") { try $0.int() } ?? PatchImmediateStage.defaultMarker
        guard let m32 = Int32(exactly: m) ?? (m >= 0 && m <= Int64(UInt32.max) ? Int32(truncatingIfNeeded: m) : nil) else {
            throw PipelineError(at: f.optional("marker")!.mark, "\(label): marker \(m) does not fit in a 32-bit immediate")
        }
        marker = m32
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
        for i in out.indices where out[i].immediate == marker {
            out[i].immediate = value
            patched += 1
        }
        if patched == 0 {
            throw StageFailure("marker 0x\(String(UInt32(bitPattern: marker), radix: 16)) does not occur in program '\(ctx.program)'")
        }
        return out
    }
}
