import BPFLoader

/// `set-global`: instance `n` sees its own value of a `.rodata`/`.data`/`.bss` variable. Each
/// instance gets a private copy of the variable's global-data map with the value written in (and
/// `.rodata` frozen, so the verifier still treats it as a constant); the instance's references to
/// the shared map are pointed at its copy.
struct SetGlobalStage: Stage {
    let label = "stage set-global"
    let object: BPFObject
    let variable: String
    let values: [GlobalLiteral]

    init(_ env: StageEnvironment) throws {
        let f = try StageFactory.fields(env, known: ["variable", "values"], label: label)
        let nameNode = try f.required("variable")
        variable = try MappingFields.naming("variable") { try nameNode.string() }
        let nodes = try StageFactory.perInstance(f, "values", env: env, label: label) ?? []
        guard f.has("values") else { throw PipelineError(at: env.entry.mark, "\(label): missing required key 'values' in 'with'") }
        values = try nodes.map { try $0.globalLiteral() }
        object = env.object
        // Check every value against the variable's type now, so `validate` catches it.
        for (i, v) in values.enumerated() {
            do { _ = try env.object.spec.encodeGlobal(variable, v) } catch let e as GlobalOverrideError {
                throw PipelineError(at: nodes[i].mark, "\(label): \(e)")
            }
        }
    }

    func apply(_ ctx: PreprocessContext, _ insns: [Instruction]) throws -> [Instruction]? {
        // Planning: no maps exist, so there is nothing to point at; the code keeps its shape.
        guard !object.maps.isEmpty else { return insns }
        let (original, copy) = try object.instanceCopy(of: variable, setTo: values[ctx.instance])
        var out = insns
        var i = 0
        var rewritten = 0
        while i < out.count {
            if out[i].isLoadImm64 && out[i].src == Instruction.pseudoMapValue && out[i].immediate == original.fd.rawValue {
                out[i].immediate = copy.fd.rawValue
                rewritten += 1
            }
            i += out[i].isLoadImm64 ? 2 : 1
        }
        if rewritten == 0 {
            throw StageFailure("program '\(ctx.program)' never reads section \(original.definition.origin), so '\(variable)' cannot affect it")
        }
        return out
    }
}

/// A stage's refusal, with the stage's own words; the runner adds program and instance.
struct StageFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
