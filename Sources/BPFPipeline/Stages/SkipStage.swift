import BPFLoader

/// `skip`: loads only some instances — `only: [..]` keeps those, `except: [..]` drops those. A
/// skipped instance has no fd and no pin, as in the seed.
struct SkipStage: Stage {
    let label = "stage skip"
    let keep: Set<Int>

    init(_ env: StageEnvironment) throws {
        let label = self.label
        let f = try StageFactory.fields(env, known: ["only", "except"], label: label)
        guard f.has("only") != f.has("except") else {
            throw PipelineError(at: env.entry.with?.mark ?? env.entry.mark, "\(label): give exactly one of 'only' or 'except'")
        }
        let key = f.has("only") ? "only" : "except"
        let node = f.optional(key)!
        let indexes = try MappingFields.naming(key) { try node.sequence() }.map { item -> Int in
            let i = try item.int()
            guard i >= 0 && i < Int64(env.instances) else {
                throw PipelineError(at: item.mark, "\(label): instance \(i) is out of range (program '\(env.program)' has \(env.instances))")
            }
            return Int(i)
        }
        keep = key == "only" ? Set(indexes) : Set(0..<env.instances).subtracting(indexes)
    }

    func apply(_ ctx: PreprocessContext, _ insns: [Instruction]) throws -> [Instruction]? {
        keep.contains(ctx.instance) ? insns : nil
    }
}
