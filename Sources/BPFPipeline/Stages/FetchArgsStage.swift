import BPFLoader

/// `fetch-args`: perf's BPF prologue as a stage. Each instance gets up to three arguments of
/// the probed function, fetched from pt_regs (and through one pointer, if asked) into r3-r5,
/// with r2 saying whether every read worked, so one program written as
/// `int prog(struct pt_regs *ctx, long err, long a1, long a2, long a3)` serves several probe
/// points, each instance reading its own function's arguments.
///
///     with:
///       args: [[di], [si], [dx, "+8(si):u32"]]   # one list per instance
///       read: user                                # optional; default from the section
struct FetchArgsStage: Stage {
    let label = "stage fetch-args"
    /// Per instance, its argument specs.
    let arguments: [[FetchArgSpec]]
    /// Forced helper; nil: bpf_probe_read_user for uprobe sections, _kernel otherwise.
    let forcedHelper: Int32?

    init(_ env: StageEnvironment) throws {
        let f = try StageFactory.fields(env, known: ["args", "read"], label: label)
        guard f.has("args") else {
            throw PipelineError(at: env.entry.mark, "\(label): missing required key 'args' in 'with'",
                                hint: "one list of argument specs per instance, e.g. args: [[di], [si]]")
        }
        let lists = try StageFactory.perInstance(f, "args", env: env, label: label) ?? []
        let label = self.label
        arguments = try lists.enumerated().map { n, list in try Self.parseInstance(list, n: n, label: label) }
        if let read = f.optional("read") {
            let text = try MappingFields.naming("read") { try read.string() }
            switch text {
            case "user": forcedHelper = FetchArgsPrologue.probeReadUser
            case "kernel": forcedHelper = FetchArgsPrologue.probeReadKernel
            default: throw PipelineError(at: read.mark, "\(label): 'read' must be 'user' or 'kernel', found '\(text)'")
            }
        } else {
            forcedHelper = nil
        }
    }

    /// One instance's list: 0 to 3 specs, each checked where it is written.
    private static func parseInstance(_ node: YAMLNode, n: Int, label: String) throws -> [FetchArgSpec] {
        if node.isNull { return [] }
        guard case .sequence(let items) = node.content else {
            throw PipelineError(at: node.mark, "\(label): instance \(n)'s arguments must be a list, found \(node.kindDescription)",
                                hint: "write [di] for one argument, [] for none")
        }
        guard items.count <= FetchArgsPrologue.maxArguments else {
            throw PipelineError(at: items[FetchArgsPrologue.maxArguments].mark,
                                "\(label): instance \(n) has \(items.count) arguments; at most \(FetchArgsPrologue.maxArguments) fit in r3-r5")
        }
        return try items.map { item in
            let text = try item.string()
            do { return try FetchArgSpec.parse(text) } catch let error as FetchArgSpec.Failure {
                throw PipelineError(at: item.mark, "\(label): instance \(n): \(error.message)", hint: error.hint)
            }
        }
    }

    /// Program types whose context the pt_regs offsets fit: kprobe (uprobes too) and perf_event
    /// contexts begin with pt_regs; a raw tracepoint's is its u64 arguments, which the same
    /// offsets read (how the tests test-run a prologue with a context they write).
    static let contextTypes: [UInt32] = [2 /* kprobe */, 7 /* perf_event */, 17 /* raw_tracepoint */, 24 /* raw_tracepoint_writable */]

    func apply(_ ctx: PreprocessContext, _ insns: [Instruction]) throws -> [Instruction]? {
        // Type 0: the section names no type bpfpipe knows; the verifier judges the loads.
        guard ctx.programType == 0 || Self.contextTypes.contains(ctx.programType) else {
            throw StageFailure("program '\(ctx.program)' (section \(ctx.section)) does not receive pt_regs; fetch-args is for kprobe, uprobe and perf_event programs")
        }
        let helper = forcedHelper ?? FetchArgsPrologue.helper(forSection: ctx.section)
        return FetchArgsPrologue.instructions(arguments[ctx.instance], helper: helper) + insns
    }
}
