import BPFLoader
import Logging

/// Turns each program's `preprocess:` list into one preprocessor over its instances: stages
/// apply in order, each seeing the previous one's output; a stage that skips ends the chain.
struct PreprocessStep {
    let plugins: PluginResolver
    /// Fault injection for tests, called before each instance is produced.
    var fault: (@Sendable (_ program: String, _ instance: Int) throws -> Void)?
    /// Handed to stages that log per instance.
    var logger: Logger?

    func configure(_ entry: ObjectEntry, object: BPFObject) throws {
        for (name, p) in entry.programs.sorted(by: { $0.key < $1.key }) where p.load {
            guard let program = object.program(named: name) else { continue }
            let stages = try p.preprocess.map {
                try StageFactory.make(StageEnvironment(object: object, program: name, instances: p.instances, entry: $0, logger: logger), plugins: plugins)
            }
            if stages.isEmpty && p.instances == 1 { continue }
            let chain = StageChain(stages: stages)
            let fault = self.fault
            try program.setPreprocessor(instances: p.instances) { ctx, insns in
                try fault?(ctx.program, ctx.instance)
                return try chain.apply(ctx, insns)
            }
        }
    }
}

/// The stages of one program; an error names the stage that raised it.
final class StageChain: @unchecked Sendable {
    let stages: [Stage]
    init(stages: [Stage]) { self.stages = stages }

    func apply(_ ctx: PreprocessContext, _ insns: [Instruction]) throws -> [Instruction]? {
        var current = insns
        for stage in stages {
            do {
                guard let next = try stage.apply(ctx, current) else { return nil }
                if let problem = InstructionLimits.problem(in: next) {
                    throw StageFailure("returned invalid instructions: \(problem)")
                }
                current = next
            } catch {
                throw StageFailure("\(stage.label): \(error)", errno: (error as? any ErrnoCarrying)?.carriedErrno)
            }
        }
        return current
    }
}
