import BPFLoader

/// `prologue`: prepends per-instance instructions (the seed's use: put arguments where the body
/// expects them). `{n}` in a line is the instance index, `{value}` the instance's entry of
/// `values`. The loader shifts func_info and line_info and keeps calls right, since the original
/// code follows the prologue unchanged.
struct PrologueStage: Stage {
    let label = "stage prologue"
    let lines: [String]
    let values: [Int64]?

    init(_ env: StageEnvironment) throws {
        let f = try StageFactory.fields(env, known: ["instructions", "values"], label: label)
        let node = try f.required("instructions")
        let items = try MappingFields.naming("instructions") { try node.sequence() }
        guard !items.isEmpty else { throw PipelineError(at: node.mark, "\(label): 'instructions' is empty") }
        lines = try items.map { try $0.string() }
        values = try StageFactory.perInstance(f, "values", env: env, label: label)?.map { try $0.int() }
        if values == nil, lines.contains(where: { $0.contains("{value}") }) {
            throw PipelineError(at: node.mark, "\(label): '{value}' is used but 'values' is not given")
        }
        // Assemble every instance now so that an error (a syntax error, or a value that does
        // not fit for one instance) is reported by `validate`, at its line.
        for n in 0..<env.instances {
            for (i, line) in lines.enumerated() {
                do { _ = try Assembler.assemble(PrologueStage.substitute(line, n: n, value: values?[n] ?? 0)) } catch let e as Assembler.Failure {
                    throw PipelineError(at: items[i].mark, "\(label): " + (env.instances > 1 ? "instance \(n): " : "") + "instruction \(i): \(e)")
                }
            }
        }
    }

    static func substitute(_ line: String, n: Int, value: Int64) -> String {
        line.replacing("{n}", with: String(n)).replacing("{value}", with: String(value))
    }

    func apply(_ ctx: PreprocessContext, _ insns: [Instruction]) throws -> [Instruction]? {
        var prologue: [Instruction] = []
        for line in lines {
            prologue += try Assembler.assemble(PrologueStage.substitute(line, n: ctx.instance, value: values?[ctx.instance] ?? 0))
        }
        return prologue + insns
    }
}
