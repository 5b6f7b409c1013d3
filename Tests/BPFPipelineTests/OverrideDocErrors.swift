import Foundation
import Testing
@testable import BPFLoader
@testable import BPFPipeline
import BPFTestSupport

/// The errors docs/pipeline.md quotes for `value-size`, `attach-to`, libbpf's words and the
/// built-in stages' safety checks, made to happen for `DocsTests`.
enum OverrideDocErrors {
    static func trigger(_ h: PipelineHarness) throws -> [String] {
        var said: [String] = []
        func capture(_ body: () throws -> Void) {
            do { try body(); said.append("(no error)") } catch { said.append("error: \(error)") }
        }
        let folder = try TemporaryFolder("docerrors")
        defer { folder.remove() }

        // File rules: libbpf's word for a key.
        capture { _ = try PipelineDecoder.decode(text: LibbpfWordHintTests.cases[0].yaml, file: "x.yaml") }

        // value-size on a kept map, then a different size.
        let overrides = try OverrideFixture.write(in: folder)
        func kept(_ size: Int) throws -> PipelineSpec {
            try h.decode(text: OverrideFixture.pipeline(overrides, body: """
                maps:
                  stacks: { value-size: \(size), keep: true }
            \(OverrideTests.programs(["on_switch": "{}"]))
            """))
        }
        _ = try h.runner(try kept(1016)).execute(.run)
        capture { _ = try h.runner(try kept(512)).execute(.run) }

        // attach-to: a name the kernel does not have, and a program type without targets.
        capture { _ = try h.runner(try h.decode(text: OverrideFixture.pipeline(overrides, body: OverrideTests.programs(["bare": "{ attach-to: no_such_tp }"])))).execute(.validate) }
        capture { _ = try h.runner(try h.decode(text: OverrideFixture.pipeline(overrides, body: OverrideTests.programs(["sock": "{ attach-to: sched_switch }"])))).execute(.validate) }

        // Built-in stages: set-global on a program that never reads the section, patch-imm
        // without the marker as a constant, a prologue that does not assemble for instance 2.
        let stages = try StageFixture.write(in: folder)
        capture { _ = try h.runner(try h.decode(text: StageFixture.pipeline(stages, programs: """
              marked: { load: false }
              two: { load: false }
              none:
                preprocess:
                  - stage: set-global
                    with: { variable: a, values: [1] }
        """))).execute(.validate) }
        capture { _ = try h.runner(try h.decode(text: StageFixture.pipeline(stages, programs: """
              marked: { load: false }
              none: { load: false }
              two:
                preprocess:
                  - stage: patch-imm
                    with: { marker: 0 }
        """))).execute(.plan) }
        capture { _ = try h.runner(try h.decode(text: StageFixture.pipeline(stages, programs: """
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
        """))).execute(.validate) }
        return said
    }
}
