import Foundation
import Testing
@testable import BPFLoader
@testable import BPFPipeline
import BPFTestSupport

/// Issue 9, "stages that cannot corrupt code": patch-imm touches only constants, set-global
/// stages compose, and `validate`/`plan` refuse what `run` refuses.
enum StageFixture {
    /// `marked`: 8 is bpf_get_smp_processor_id's helper id, `answer`'s offset in `.data` (the
    /// second half of the ld_imm64 that reads it) and the constant added at the end; only that
    /// constant is data. `two` reads two `.rodata` variables; `none` reads no global at all.
    static let source = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>

    char LICENSE[] SEC("license") = "GPL";

    volatile int pad0 = 1, pad1 = 2, answer = 42;

    SEC("socket") int marked(struct __sk_buff *skb) {
        if (bpf_get_smp_processor_id() > 100000)
            return 0;
        return answer + 8;
    }

    const volatile int a = 0, b = 0;

    SEC("socket") int two(struct __sk_buff *skb) { return a * 1000 + b; }

    SEC("socket") int none(struct __sk_buff *skb) { return 5; }
    """

    static func write(in folder: TemporaryFolder) throws -> String {
        let path = "\(folder.path)/stages.bpf.c"
        try source.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func pipeline(_ source: String, programs: String) -> String {
        """
        version: 1
        name: stage-safety
        objects:
          - name: stages
            build: { source: \(source) }
            programs:
        \(programs)
        """
    }
}

@Suite(.enabled(if: KernelGate.enabled, "needs bpf() as root"), .kernel)
struct StageSafetyTests {
    @Test func patchImmChangesOnlyConstantsNotAMapOffsetOrAHelperCall() throws {
        let folder = try TemporaryFolder("stages")
        defer { folder.remove() }
        let h = try PipelineHarness()
        let spec = try h.decode(text: StageFixture.pipeline(try StageFixture.write(in: folder), programs: """
              marked:
                instances: 2
                preprocess:
                  - stage: patch-imm
                    with: { marker: 8, values: [100, 200] }
              two: { load: false }
              none: { load: false }
        """))
        _ = try h.runner(spec).execute(.run)
        let base = "\(h.pins.path)/stage-safety/stages/progs/marked"
        // `answer` is still read at offset 8 and the helper is still 8: 42 plus the instance's value.
        #expect(try h.run("\(base)/0") == 142)
        #expect(try h.run("\(base)/1") == 242)
        let counts = try h.records().filter { $0["msg"] as? String == "patch-imm patched 1 immediate(s)" }
        #expect(counts.map { $0["instance"] as? Int } == [0, 1])
        #expect(counts.allSatisfy { $0["patched"] as? Int == 1 && $0["program"] as? String == "marked" })
    }

    @Test func patchImmFindingTheMarkerOnlyOutsideConstantsIsAnError() throws {
        let folder = try TemporaryFolder("stages")
        defer { folder.remove() }
        let h = try PipelineHarness()
        // 1000 is `two`'s multiplier; 0 only its ld_imm64 map references' halves.
        let spec = try h.decode(text: StageFixture.pipeline(try StageFixture.write(in: folder), programs: """
              marked: { load: false }
              two:
                preprocess:
                  - stage: patch-imm
                    with: { marker: 0 }
              none: { load: false }
        """))
        let error = #expect(throws: LoaderError.self) { _ = try h.runner(spec).execute(.run) }
        #expect(error?.message == "preprocessing instance 0 failed: stage patch-imm: marker 0x0 does not occur as a constant in program 'two'")
        #expect(h.pins.contents().isEmpty)
    }

    @Test func twoSetGlobalStagesOnOneSectionCompose() throws {
        let folder = try TemporaryFolder("stages")
        defer { folder.remove() }
        let h = try PipelineHarness()
        let spec = try h.decode(text: StageFixture.pipeline(try StageFixture.write(in: folder), programs: """
              marked: { load: false }
              two:
                instances: 2
                preprocess:
                  - stage: set-global
                    with: { variable: a, values: [1, 2] }
                  - stage: set-global
                    with: { variable: b, values: [3, 4] }
              none: { load: false }
        """))
        _ = try h.runner(spec).execute(.run)
        let base = "\(h.pins.path)/stage-safety/stages/progs/two"
        #expect(try h.run("\(base)/0") == 1003)
        #expect(try h.run("\(base)/1") == 2004)
    }

    /// The same file is refused by every mode, with the same message at the same place.
    @Test(arguments: [PipelineRunner.Mode.validate, .plan, .run])
    func setGlobalOnAProgramThatNeverReadsTheSectionIsRefusedInEveryMode(_ mode: PipelineRunner.Mode) throws {
        let folder = try TemporaryFolder("stages")
        defer { folder.remove() }
        let h = try PipelineHarness()
        let spec = try h.decode(text: StageFixture.pipeline(try StageFixture.write(in: folder), programs: """
              marked: { load: false }
              two: { load: false }
              none:
                instances: 2
                preprocess:
                  - stage: set-global
                    with: { variable: a, values: [1, 2] }
        """))
        let error = #expect(throws: PipelineError.self) { _ = try h.runner(spec).execute(mode) }
        #expect(error?.message == "stage set-global: program 'none' never reads section .rodata, so 'a' cannot affect it")
        #expect(error?.mark?.line == 13 && error?.mark?.column == 31, "\(String(describing: error))")
        #expect(h.pins.contents().isEmpty)
    }

    @Test func everyInstancesPrologueIsAssembledByValidate() throws {
        let folder = try TemporaryFolder("stages")
        defer { folder.remove() }
        let text = StageFixture.pipeline(try StageFixture.write(in: folder), programs: """
              marked: { load: false }
              none: { load: false }
              two:
                instances: 3
                preprocess:
                  - stage: prologue
                    with:
                      values: [1, 2, 5000000000]
                      instructions:
                        - "w2 = {value}"
        """)
        let file = ValidateHarness.pipelineFile()
        let error = #expect(throws: PipelineError.self) { _ = try ValidateHarness().validate(text, file: file) }
        #expect(error?.description == "\(file):16:19: stage prologue: instance 2: instruction 0: 'w2 = 5000000000': 5000000000 does not fit in 32 bits; write 'r2 = 5000000000 ll'")
    }
}

/// A stage's error keeps its errno through the chain, so the preprocess step's error has it.
@Suite struct StageChainErrnoTests {
    struct Failing: Stage {
        let label = "stage failing"
        func apply(_ ctx: PreprocessContext, _ insns: [Instruction]) throws -> [Instruction]? {
            throw LoaderError(.preprocess, "cannot create the instance's map", errno: .operationNotPermitted)
        }
    }

    @Test func aStagesErrnoSurvivesTheChain() throws {
        let ctx = PreprocessContext(object: "o", program: "p", section: "socket", programType: 1, instance: 0, instances: 1)
        let error = #expect(throws: StageFailure.self) { _ = try StageChain(stages: [Failing()]).apply(ctx, [.exit]) }
        #expect(error?.carriedErrno == .operationNotPermitted)
        #expect(error?.description == "stage failing: preprocess: cannot create the instance's map (EPERM (Operation not permitted))")
    }
}
