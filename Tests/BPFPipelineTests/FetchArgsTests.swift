import Foundation
import Testing
@testable import BPFLoader
@testable import BPFPipeline
import BPFTestSupport

/// The `fetch-args` stage's code, instruction for instruction, and its spec syntax. No kernel.
@Suite struct FetchArgsTests {
    func code(_ lines: [String]) throws -> [Instruction] { try lines.flatMap { try Assembler.assemble($0) } }
    func specs(_ texts: [String]) throws -> [FetchArgSpec] { try texts.map { try FetchArgSpec.parse($0) } }

    @Test func registersAreLoadedStraightFromTheContext() throws {
        #expect(FetchArgsPrologue.instructions(try specs(["di"]), helper: 112) == (try code([
            "r3 = *(u64 *)(r1 + 112)", "r4 = 0", "r5 = 0", "r2 = 0",
        ])))
        #expect(FetchArgsPrologue.instructions(try specs(["%si", "dx:u32", "r8:u8"]), helper: 112) == (try code([
            "r3 = *(u64 *)(r1 + 104)", "r4 = *(u32 *)(r1 + 96)", "r5 = *(u8 *)(r1 + 72)", "r2 = 0",
        ])))
        // No arguments: r2..r5 are still set, so the body may read them.
        #expect(FetchArgsPrologue.instructions([], helper: 113) == (try code(["r3 = 0", "r4 = 0", "r5 = 0", "r2 = 0"])))
    }

    @Test(arguments: ["u8", "u16", "u32", "u64"])
    func aDereferenceReadsThroughTheHelperIntoItsSlotAndLoadsItsSize(size: String) throws {
        let bytes = ["u8": 1, "u16": 2, "u32": 4, "u64": 8][size]!
        #expect(FetchArgsPrologue.instructions(try specs(["+12(di):\(size)"]), helper: 112) == (try code([
            "r6 = r1",
            "r3 = *(u64 *)(r6 + 112)", "r3 += 12", "r1 = r10", "r1 += -8", "r2 = \(bytes)", "call 112",
            "if r0 != 0 goto +5",
            "r3 = *(\(size) *)(r10 - 8)", "r4 = 0", "r5 = 0", "r2 = 0", "goto +4",
            "r2 = 1", "r3 = 0", "r4 = 0", "r5 = 0",
            "r1 = r6",
        ])))
    }

    @Test func everyFailedReadJumpsToTheBlockThatZeroesTheArguments() throws {
        // Two reads (the kernel helper) around a register; +0 adds nothing to the address.
        #expect(FetchArgsPrologue.instructions(try specs(["-8(bp):u16", "si", "+0x10(sp)"]), helper: 113) == (try code([
            "r6 = r1",
            "r3 = *(u64 *)(r6 + 32)", "r3 += -8", "r1 = r10", "r1 += -8", "r2 = 2", "call 113",
            "if r0 != 0 goto +12",
            "r3 = *(u64 *)(r6 + 152)", "r3 += 16", "r1 = r10", "r1 += -24", "r2 = 8", "call 113",
            "if r0 != 0 goto +5",
            "r3 = *(u16 *)(r10 - 8)", "r4 = *(u64 *)(r6 + 104)", "r5 = *(u64 *)(r10 - 24)", "r2 = 0", "goto +4",
            "r2 = 1", "r3 = 0", "r4 = 0", "r5 = 0",
            "r1 = r6",
        ])))
        #expect(FetchArgsPrologue.instructions(try specs(["+0(ax)"]), helper: 113).prefix(3) == (try code([
            "r6 = r1", "r3 = *(u64 *)(r6 + 80)", "r1 = r10",
        ]))[...])
    }

    @Test func userSpaceProbesReadUserMemoryEverythingElseKernelMemory() {
        for section in ["uprobe", "uprobe/./victim:first_arg", "uretprobe", "uretprobe/x:f", "uprobe.s", "uprobe.multi/x:*", "usdt"] {
            #expect(FetchArgsPrologue.helper(forSection: section) == 112, "\(section)")
        }
        for section in ["kprobe/do_sys_open", "kretprobe/x", "raw_tp", "tp/syscalls/sys_enter_getpid", "uprobex", "perf_event"] {
            #expect(FetchArgsPrologue.helper(forSection: section) == 113, "\(section)")
        }
    }

    @Test func specsPrintAsWritten() throws {
        for text in ["di", "si:u32", "+8(si)", "-4(bp):u16", "+0(r15):u8"] {
            #expect(try FetchArgSpec.parse(text).description == text)
        }
        #expect(try FetchArgSpec.parse("%dx").description == "dx")
        #expect(try FetchArgSpec.parse("+0x10(sp)") == FetchArgSpec(register: "sp", dereference: 16, size: .u64))
    }

    @Test(arguments: [
        ("rdi", "unknown register 'rdi' in 'rdi'; did you mean 'di'?"),
        ("+8(dii):u32", "unknown register 'dii' in '+8(dii):u32'; did you mean 'di'?"),
        ("eax", "unknown register 'eax' in 'eax'; did you mean 'ax'?"),
        ("x0", "unknown register 'x0' in 'x0'"),
        ("di:u12", "unknown size ':u12' in 'di:u12'"),
        ("8(si)", "the offset of '8(si)' needs a sign"),
        ("+8(si", "'+8(si' does not end its dereference with ')'"),
        ("+x(si)", "bad offset '+x' in '+x(si)'"),
        ("+0x100000000(si)", "bad offset '+0x100000000'"),
        ("+8(+8(si))", "nested dereferences ('+8(+8(si))') are not supported"),
        ("", "empty argument spec"),
    ])
    func badSpecsSayWhatIsWrong(text: String, message: String) {
        #expect { _ = try FetchArgSpec.parse(text) } throws: { "\($0)".contains(message) }
    }
}

/// The stage in a pipeline: `validate` checks every instance's specs and points at the one that
/// is wrong; `plan` shows each instance's code as its prologue followed by the unchanged body.
@Suite struct FetchArgsPipelineTests {
    static func pipeline(_ with: String, instances: Int = 3) -> String {
        """
        version: 1
        name: fetch-args-test
        objects:
          - name: probe
            build: { source: ../examples/probe-args/probe_args.bpf.c }
            programs:
              record:
                instances: \(instances)
                preprocess:
                  - stage: fetch-args
                    with: \(with)
        """
    }

    static let cases: [(with: String, fragment: String, line: Int, column: Int)] = [
        ("{ args: [[di], [si], [dx, \"+8(sj):u32\"]] }", "stage fetch-args: instance 2: unknown register 'sj' in '+8(sj):u32'; did you mean 'si'?", 11, 45),
        ("{ args: [[di], [rsi], [dx]] }", "instance 1: unknown register 'rsi' in 'rsi'; did you mean 'si'?", 11, 35),
        ("{ args: [[di], [si]] }", "'args' has 2 entries but program 'record' has 3 instances", 11, 27),
        ("{ args: [[di], [si], [di, si, dx, cx]] }", "instance 2 has 4 arguments; at most 3 fit in r3-r5", 11, 53),
        ("{ args: [[di], si, [dx]] }", "instance 1's arguments must be a list", 11, 34),
        ("{ args: [[di], [si], [\"+8(si):u7\"]] }", "instance 2: unknown size ':u7'", 11, 41),
        ("{ args: [[di], [si], [dx]], read: users }", "'read' must be 'user' or 'kernel', found 'users'", 11, 53),
        ("{ arg: [[di], [si], [dx]] }", "unknown key 'arg'; did you mean 'args'?", 11, 21),
        ("{ read: user }", "missing required key 'args'", 10, 13),
    ]

    @Test(arguments: 0..<cases.count)
    func validatePointsAtTheWrongSpecOfAnyInstance(index: Int) throws {
        let c = Self.cases[index]
        let file = ValidateHarness.pipelineFile()
        #expect {
            _ = try ValidateHarness().validate(Self.pipeline(c.with), file: file)
        } throws: { error in
            guard let e = error as? PipelineError else { return false }
            return e.message.contains(c.fragment) && e.mark?.line == c.line && e.mark?.column == c.column && e.file == file
        }
    }

    @Test func aMisspeltStageNameSuggestsFetchArgs() throws {
        let text = Self.pipeline("{ args: [[di]] }", instances: 1).replacing("stage: fetch-args", with: "stage: fetch-arg")
        #expect { _ = try ValidateHarness().validate(text) } throws: { "\($0)".contains("unknown built-in stage 'fetch-arg'; did you mean 'fetch-args'?") }
    }

    @Test func aProgramWithoutPtRegsIsRefusedByPlan() throws {
        let file = ValidateHarness.pipelineFile()
        try """
        version: 1
        name: fetch-args-socket
        objects:
          - name: counters
            build: { source: ../examples/counters/counters.bpf.c }
            programs:
              with_arg:
                preprocess:
                  - stage: fetch-args
                    with: { args: [[di]] }
              count_pkts: { load: false }
              tagged: { load: false }
        """.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let spec = try PipelineDecoder.decode(file: file)
        #expect {
            _ = try PipelineRunner(spec: spec, logger: .init(label: "test"), build: BuildStep(cacheDirectory: ValidateHarness().cache)).execute(.plan)
        } throws: { "\($0)".contains("stage fetch-args: program 'with_arg' (section socket) does not receive pt_regs") }
    }

    @Test func planShowsEachInstanceAsItsPrologueThenTheBodyWithDebugInfoMoved() throws {
        let text = Self.pipeline("{ args: [[di], [\"+12(di):u32\"], []] }")
        let file = ValidateHarness.pipelineFile()
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let spec = try PipelineDecoder.decode(file: file)
        let result = try PipelineRunner(spec: spec, logger: .init(label: "test"), build: BuildStep(cacheDirectory: ValidateHarness().cache)).execute(.plan)
        let program = try #require(result.objects.first?.program(named: "record"))
        let body = try #require(program.linked)
        let expected = [["di"], ["+12(di):u32"], []].map { texts in
            FetchArgsPrologue.instructions(texts.map { try! FetchArgSpec.parse($0) }, helper: FetchArgsPrologue.probeReadUser)
        }
        #expect(program.instances.count == 3)
        for (n, prologue) in expected.enumerated() {
            let inst = try #require(program.instances[n].code)
            #expect(Array(inst.instructions.prefix(prologue.count)) == prologue, "instance \(n)")
            #expect(Array(inst.instructions.dropFirst(prologue.count)) == body.instructions, "instance \(n)")
            // The loader's prologue path: func_info stays at 0, every line moves by the prologue.
            #expect(inst.funcInfo.first?.instruction == 0)
            #expect(inst.lineInfo.dropFirst().map(\.instruction) == body.lineInfo.map { $0.instruction + prologue.count })
        }
    }
}

/// What the prologue does in the kernel: raw tracepoint bodies test-run with a context the test
/// writes, and the uprobe program of examples/probe-args, which the verifier refuses without
/// the stage.
@Suite(.enabled(if: KernelGate.enabled, "needs bpf() as root"), .kernel)
struct FetchArgsKernelTests {
    struct Fetched: Equatable, CustomStringConvertible {
        var err, a1, a2, a3, ctx1: UInt64
        var description: String { "err=\(err) a1=0x\(String(a1, radix: 16)) a2=0x\(String(a2, radix: 16)) a3=0x\(String(a3, radix: 16)) ctx1=0x\(String(ctx1, radix: 16))" }
    }

    /// Test-runs a pinned raw_tp instance with `context` as its u64 arguments (r15 = [0], r14 = [1], ...)
    /// and returns its return value and what its body recorded.
    func run(_ pin: String, _ context: [UInt64], result: RunResult) throws -> (UInt32, Fetched) {
        let fd = try BPFCommand.get(pinned: pin).get()
        var ctx: [UInt8] = []
        for v in context + [UInt64](repeating: 0, count: 12 - context.count) { ctx += .le(v) }
        let ret = try BPFCommand.testRun(fd, data: [], context: ctx, repeat: 0).get().returnValue
        let raw = try #require(try result.objects[0].map(named: "out")!.lookup(key: .le(UInt32(0))))
        let v = (0..<5).map { i in raw[(i * 8)..<(i * 8 + 8)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
        return (ret, Fetched(err: v[0], a1: v[1], a2: v[2], a3: v[3], ctx1: v[4]))
    }

    @Test func thePrologueFetchesRegistersAndMemoryOfEachSizeAndReportsFailedReads() throws {
        let h = try PipelineHarness()
        let spec = try h.decode(text: """
        version: 1
        name: fetch-args-run
        objects:
          - name: fixture
            build: { source: ../Tests/BPFPipelineTests/Pipelines/fixtures/fetch_args_run.bpf.c }
            programs:
              user_reads:
                instances: 4
                preprocess:
                  - stage: fetch-args
                    with:
                      read: user
                      args:
                        - [r15, "r14:u16", cx]
                        - ["+0(r15):u8", "+1(r15):u16", "+4(r15):u32"]
                        - ["+8(r15)", "-8(r14)", r13]
                        - ["+0(r15)", r14]
              kernel_reads:
                preprocess:
                  - stage: fetch-args
                    with: { read: kernel, args: [["+0(r15)", r14]] }
              with_subprog:
                instances: 2
                preprocess:
                  - stage: fetch-args
                    with: { read: user, args: [["+8(r15)", r14, "+0(r15):u8"], [r13]] }
        """)
        let result = try h.runner(spec).execute(.run)
        let base = "\(h.pins.path)/fetch-args-run/fixture/progs"

        // Memory in this process that the reads go through: bytes 0x11, 0x12, ... 0x30.
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 32, alignment: 8)
        defer { buffer.deallocate() }
        for i in 0..<32 { buffer.storeBytes(of: UInt8(0x11 + i), toByteOffset: i, as: UInt8.self) }
        let p = UInt64(UInt(bitPattern: buffer))

        // Registers: r15 whole, r14's low 16 bits, cx (ctx[11]); r1 is still the context.
        var (ret, f) = try run("\(base)/user_reads/0", [0x1122_3344_5566_7788, 0xaaaa_bbbb_cccc_dddd, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0xc0ffee], result: result)
        #expect(ret == 7)
        #expect(f == Fetched(err: 0, a1: 0x1122_3344_5566_7788, a2: 0xdddd, a3: 0xc0ffee, ctx1: 0xaaaa_bbbb_cccc_dddd))

        // Reads of 1, 2 and 4 bytes, zero-extended.
        (ret, f) = try run("\(base)/user_reads/1", [p, 0x5a5a], result: result)
        #expect(ret == 7)
        #expect(f == Fetched(err: 0, a1: 0x11, a2: 0x1312, a3: 0x1817_1615, ctx1: 0x5a5a))

        // 8 bytes, a negative offset, and a register after two helper calls.
        (ret, f) = try run("\(base)/user_reads/2", [p, p + 24, 0x77], result: result)
        #expect(ret == 7)
        #expect(f == Fetched(err: 0, a1: 0x201f_1e1d_1c1b_1a19, a2: 0x2827_2625_2423_2221, a3: 0x77, ctx1: p + 24))

        // The same instance succeeds, then fails on a NULL pointer: err = 1 and every argument 0,
        // the register one too, as perf's prologue did.
        (ret, f) = try run("\(base)/user_reads/3", [p, 0x99], result: result)
        #expect(f == Fetched(err: 0, a1: 0x1817_1615_1413_1211, a2: 0x99, a3: 0, ctx1: 0x99))
        (ret, f) = try run("\(base)/user_reads/3", [0, 0x99], result: result)
        #expect(ret == 7)
        #expect(f == Fetched(err: 1, a1: 0, a2: 0, a3: 0, ctx1: 0x99))

        // bpf_probe_read_kernel refuses the same user-space address: the helper choice matters.
        (ret, f) = try run("\(base)/kernel_reads", [p, 0x99], result: result)
        #expect(ret == 7)
        #expect(f == Fetched(err: 1, a1: 0, a2: 0, a3: 0, ctx1: 0x99))

        // A body with a subprogram: the call and its func_info moved with the prologue.
        let subprog = try #require(result.objects[0].program(named: "with_subprog"))
        let code = try #require(subprog.instances[0].code)
        #expect(code.funcInfo.count == 2)
        #expect(code.funcInfo.last!.instruction == subprog.linked!.funcInfo.last!.instruction + (code.instructions.count - subprog.linked!.instructions.count))
        (ret, f) = try run("\(base)/with_subprog/0", [p, 0x42], result: result)
        #expect(ret == 7)
        #expect(f == Fetched(err: 0, a1: 0x201f_1e1d_1c1b_1a19, a2: 0x42, a3: 0x11, ctx1: 0x42))
        (ret, f) = try run("\(base)/with_subprog/1", [0, 0x42, 0x1234], result: result)
        #expect(ret == 7)
        #expect(f == Fetched(err: 0, a1: 0x1234, a2: 0, a3: 0, ctx1: 0x42))
    }

    static func probeArgs(_ preprocess: String, instances: Int) -> String {
        """
        version: 1
        name: fetch-args-verifier
        objects:
          - name: probe_args
            build: { source: ../examples/probe-args/probe_args.bpf.c }
            programs:
              record:
                instances: \(instances)
        \(preprocess)
        """
    }

    @Test func withoutTheStageTheVerifierRefusesToReadR3() throws {
        let h = try PipelineHarness()
        let spec = try h.decode(text: Self.probeArgs("", instances: 1))
        #expect { _ = try h.runner(spec).execute(.run) } throws: { "\($0)".contains("R3 !read_ok") }
        #expect(h.pins.contents().isEmpty)
    }

    @Test func withTheStageEveryInstanceOfTheUprobeProgramLoads() throws {
        let h = try PipelineHarness()
        let spec = try h.decode(text: Self.probeArgs("""
                preprocess:
                  - stage: fetch-args
                    with: { args: [[di], [si], ["+12(di):u32"]] }
        """, instances: 3))
        let result = try h.runner(spec).execute(.run)
        let program = try #require(result.objects[0].program(named: "record"))
        for n in 0..<3 {
            let fd = try BPFCommand.get(pinned: "\(h.pins.path)/fetch-args-verifier/probe_args/progs/record/\(n)").get()
            #expect(try ProgramKernelInfo(fd: fd).id > 0)
            #expect(program.instances[n].fd != nil)
        }
    }
}

/// The seed's use case end to end: pipelines/probe-args.yaml loads one program as six instances,
/// each attached as a uprobe (one as a uretprobe) to a function of the victim with its own fetch-args
/// prologue; the victim runs, and every instance recorded exactly its function's argument.
// With BPFPIPE_REQUIRE_KERNEL=1 a kernel without uprobes fails the test instead of skipping it.
@Suite(.enabled(if: KernelGate.enabled && (KernelGate.required || FileManager.default.fileExists(atPath: "/sys/bus/event_source/devices/uprobe/type")),
                "needs bpf() as root and uprobes"), .kernel)
struct ProbeArgsEndToEndTests {
    static let example = "\(repositoryRoot)/examples/probe-args"

    /// Compiles victim.c where the pipeline expects it (examples/probe-args/victim), by rename so
    /// a half-written file is never probed.
    static func buildVictim() throws -> String {
        let out = "\(example)/victim"
        let tmp = "\(out).\(getpid()).tmp"
        let r = try runProcess("/usr/bin/env", ["cc", "-O2", "-Wall", "-o", tmp, "\(example)/victim.c"])
        guard r.status == 0 else { throw FixtureFailure("cc failed for victim.c:\n\(r.stderr)") }
        guard rename(tmp, out) == 0 else { throw FixtureFailure("cannot rename \(tmp) to \(out)") }
        return out
    }

    struct Record: Equatable, CustomStringConvertible {
        var a1: Int64, err: Int64, calls: UInt64
        var description: String { "a1=\(a1) err=\(err) calls=\(calls)" }
    }

    static func records(_ map: Map, count: Int) throws -> [Record] {
        try (0..<count).map { n in
            let raw = try #require(try map.lookup(key: .le(UInt32(n))))
            let v = (0..<3).map { i in raw[(i * 8)..<(i * 8 + 8)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
            return Record(a1: Int64(bitPattern: v[0]), err: Int64(bitPattern: v[1]), calls: v[2])
        }
    }

    @Test func everyInstanceRecordsItsOwnFunctionsArgument() throws {
        let victim = try Self.buildVictim()
        let h = try PipelineHarness()
        let spec = try h.decode(file: "\(repositoryRoot)/pipelines/probe-args.yaml")
        let result = try h.runner(spec).execute(.run)
        // The run attached and pinned one link per instance: they outlive the run's fds.
        let links = "\(h.pins.path)/probe-args/probe_args/links/record"
        #expect(try FileManager.default.contentsOfDirectory(atPath: links).sorted() == ["0", "1", "2", "3", "4", "5"])
        let run = try runProcess(victim, ["3"])
        #expect(run.status == 0)
        let recorded = try Self.records(result.objects[0].map(named: "recorded")!, count: 6)
        #expect(recorded == [
            Record(a1: 1111, err: 0, calls: 3),   // first_arg(1111): di
            Record(a1: 2222, err: 0, calls: 3),   // second_arg(5, 2222): si
            Record(a1: 3333, err: 0, calls: 3),   // third_arg(10, 20, 3333): dx
            Record(a1: 4444, err: 0, calls: 3),   // field_arg(&req): +12(di):u32
            Record(a1: 0, err: 1, calls: 3),      // null_arg(NULL): the read failed
            Record(a1: 3363, err: 0, calls: 3),   // third_arg returned 10 + 20 + 3333: ax at a uretprobe
        ])
    }
}
