import BPFLoader
import Logging

/// One link of a program's preprocess chain: built-in or a plugin. It sees the previous link's
/// output for instance `n` and returns this instance's instructions, or nil to skip it.
protocol Stage {
    /// How errors and logs name the stage: `stage set-global`, `plugin prologue (libprologue.so)`.
    var label: String { get }
    func apply(_ ctx: PreprocessContext, _ insns: [Instruction]) throws -> [Instruction]?
}

/// What a stage may look at while it is configured: the object (for globals and maps), the
/// program's instance count, and whether maps exist (they do not when only planning).
struct StageEnvironment {
    let object: BPFObject
    let program: String
    let instances: Int
    let entry: StageEntry
    /// Where a stage says what it did per instance (patch-imm's count).
    var logger: Logger? = nil
}

/// Builds the stage a `preprocess:` entry names, reading and checking its `with:`.
enum StageFactory {
    static let builtinNames = ["set-global", "patch-imm", "prologue", "skip", "fetch-args"]

    static func make(_ env: StageEnvironment, plugins: PluginResolver) throws -> Stage {
        switch env.entry.kind {
        case .builtin("set-global"): return try SetGlobalStage(env)
        case .builtin("patch-imm"): return try PatchImmediateStage(env)
        case .builtin("prologue"): return try PrologueStage(env)
        case .builtin("skip"): return try SkipStage(env)
        case .builtin("fetch-args"): return try FetchArgsStage(env)
        case .builtin(let other):
            throw PipelineError(at: env.entry.mark, "unknown stage '\(other)'", hint: "built-in stages: \(builtinNames.joined(separator: ", "))")
        case .plugin(let name):
            return try PluginStage(env, library: plugins.library(name, at: env.entry.mark))
        }
    }

    /// The fields of `with:`, refusing unknown ones; a missing `with:` reads as empty.
    static func fields(_ env: StageEnvironment, known: [String], label: String) throws -> MappingFields {
        let node = env.entry.with ?? YAMLNode(.mapping([]), mark: env.entry.mark)
        return try MappingFields(node, what: "\(label) 'with'", known: known)
    }

    /// A per-instance list (`values`): one entry per instance.
    static func perInstance(_ fields: MappingFields, _ key: String, env: StageEnvironment, label: String) throws -> [YAMLNode]? {
        guard let node = fields.optional(key) else { return nil }
        let items = try MappingFields.naming(key) { try node.sequence() }
        guard items.count == env.instances else {
            throw PipelineError(at: node.mark, "\(label): '\(key)' has \(items.count) entries but program '\(env.program)' has \(env.instances) instances",
                                hint: "give one value per instance")
        }
        return items
    }
}

extension YAMLNode {
    /// A pipeline value as a global literal: integer, boolean, string or list of those.
    func globalLiteral() throws -> GlobalLiteral {
        switch content {
        case .sequence(let items): return .list(try items.map { try $0.globalLiteral() })
        case .mapping: throw PipelineError(at: mark, "expected an integer, boolean, string or list, found a mapping")
        case .scalar(let s):
            switch s.resolved {
            case .integer: return .integer(try int())
            case .bool(let b): return .bool(b)
            case .null: throw PipelineError(at: mark, "expected a value, found nothing")
            case .float: throw PipelineError(at: mark, "floating-point values cannot be stored in BPF globals")
            case .string: return .string(s.value)
            }
        }
    }
}
