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
        var section: String?
        for (i, v) in values.enumerated() {
            do { section = try env.object.spec.encodeGlobal(variable, v).variable.section } catch let e as GlobalOverrideError {
                throw PipelineError(at: nodes[i].mark, "\(label): \(e)")
            }
        }
        // The same check a run makes on the relocated code, made on the object's relocations so
        // that `validate` and `plan` refuse what `run` refuses.
        if let section, let read = env.object.spec.globalDataSections(readBy: env.program), !read.contains(section) {
            throw PipelineError(at: nameNode.mark, "\(label): " + SetGlobalStage.unread(program: env.program, section: section, variable: variable))
        }
    }

    static func unread(program: String, section: String, variable: String) -> String {
        "program '\(program)' never reads section \(section), so '\(variable)' cannot affect it"
    }

    func apply(_ ctx: PreprocessContext, _ insns: [Instruction]) throws -> [Instruction]? {
        // Planning: no maps exist, so there is nothing to point at; the code keeps its shape.
        guard let section = object.spec.globalVariables.first(where: { $0.name == variable })?.section,
              let original = object.globalDataMap(section: section) else { return insns }
        // The section as this instance's code refers to it: the shared map, or the copy an
        // earlier set-global of this chain made for this instance (then this copy starts from
        // that one's bytes, so both variables keep their instance's values).
        func refersToSection(_ fd: Int32) -> Bool {
            fd == original.fd.rawValue || object.instanceCopy(withFD: fd)?.definition.origin == original.definition.origin
        }
        var references: [Int] = []
        var i = 0
        while i < insns.count {
            if insns[i].isLoadImm64 && insns[i].src == Instruction.pseudoMapValue && refersToSection(insns[i].immediate) {
                references.append(i)
            }
            i += insns[i].isLoadImm64 ? 2 : 1
        }
        guard let first = references.first else {
            throw StageFailure(SetGlobalStage.unread(program: ctx.program, section: section, variable: variable))
        }
        let base = object.instanceCopy(withFD: insns[first].immediate)
        if references.contains(where: { insns[$0].immediate != insns[first].immediate }) {
            throw StageFailure("program '\(ctx.program)' refers to more than one map of section \(section); cannot tell which to copy")
        }
        let (_, copy) = try object.instanceCopy(of: variable, setTo: values[ctx.instance], basedOn: base)
        var out = insns
        for r in references { out[r].immediate = copy.fd.rawValue }
        return out
    }
}

/// A stage's refusal, with the stage's own words; the runner adds program and instance.
struct StageFailure: Error, CustomStringConvertible, ErrnoCarrying {
    var description: String
    /// The errno of the error it wraps, kept for the preprocess step's error.
    var carriedErrno: Errno?
    init(_ d: String, errno: Errno? = nil) {
        description = d
        carriedErrno = errno
    }
}
