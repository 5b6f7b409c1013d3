import Foundation
import Testing
@testable import BPFLoader
@testable import BPFPipeline
import BPFTestSupport

/// Runs pipelines against the real kernel and test-runs every instance they pin.
@Suite(.enabled(if: KernelGate.enabled, "needs bpf() as root"), .kernel)
struct RunnerTests {
    @Test func quickstartGivesEachInstanceItsOwnSlot() throws {
        let h = try PipelineHarness()
        let spec = try h.decode(file: "\(repositoryRoot)/pipelines/quickstart.yaml")
        let result = try h.runner(spec).execute(.run)
        let base = "\(h.pins.path)/quickstart/counters/progs/count_pkts"
        for n in 0..<4 { #expect(try h.run("\(base)/\(n)") == UInt32(n)) }
        // Each instance counted into its own slot of the shared map; slot 2 once more, by the
        // file's own test of instance 2 before the swap.
        let hits = result.objects[0].map(named: "hits")!
        for n in 0..<4 { #expect(try hits.lookup(key: .le(UInt32(n))) == .le(UInt64(n == 2 ? 2 : 1))) }
        #expect(hits.definition.maxEntries == 4)
    }

    @Test func patchImmAndSkipGivePerInstanceConstants() throws {
        let h = try PipelineHarness()
        _ = try h.runner(try h.decode(file: "\(repositoryRoot)/pipelines/per-instance-constants.yaml")).execute(.run)
        let base = "\(h.pins.path)/per-instance-constants/counters/progs/tagged"
        #expect(try h.run("\(base)/0") == 100)
        #expect(try h.run("\(base)/2") == 300)
        #expect(!FileManager.default.fileExists(atPath: "\(base)/1"))
    }

    @Test func cPluginPrologueGivesEachInstanceItsArgument() throws {
        let h = try PipelineHarness()
        _ = try h.runner(try h.decode(file: "\(repositoryRoot)/pipelines/c-plugin-prologue.yaml")).execute(.run)
        let base = "\(h.pins.path)/c-plugin-prologue/counters/progs/with_arg"
        for n in 0..<4 { #expect(try h.run("\(base)/\(n)") == UInt32(100 + 10 * n + 1)) }
    }

    @Test func swiftPluginAfterABuiltinPrologue() throws {
        let h = try PipelineHarness()
        _ = try h.runner(try h.decode(file: "\(repositoryRoot)/pipelines/swift-plugin.yaml")).execute(.run)
        let base = "\(h.pins.path)/swift-plugin/counters/progs/with_arg"
        // The prologue's store is what the body reads, and the plugin rewrote the prologue's
        // marker: without the prologue the plugin finds no marker, without the plugin 0x0badcafe + 1.
        for n in 0..<2 { #expect(try h.run("\(base)/\(n)") == UInt32(7000 + n + 1)) }
    }

    @Test func builtinPrologueStageWritesTheArgumentTheBodyReads() throws {
        let h = try PipelineHarness()
        let spec = try h.decode(text: """
        version: 1
        name: prologue-test
        objects:
          - name: counters
            build: { source: ../examples/counters/counters.bpf.c }
            programs:
              with_arg:
                instances: 3
                preprocess:
                  - stage: prologue
                    with:
                      values: [5, 50, 500]
                      instructions:
                        - "r2 = {value}"
                        - "*(u32 *)(r1 + 48) = w2"
              count_pkts: { load: false }
              tagged: { load: false }
        """)
        _ = try h.runner(spec).execute(.run)
        let base = "\(h.pins.path)/prologue-test/counters/progs/with_arg"
        #expect(try h.run("\(base)/0") == 6)
        #expect(try h.run("\(base)/1") == 51)
        #expect(try h.run("\(base)/2") == 501)
    }

    @Test func setGlobalOnDataAndOverridesOfMapsAndGlobals() throws {
        let h = try PipelineHarness()
        let spec = try h.decode(text: """
        version: 1
        name: globals-test
        objects:
          - name: counters
            build: { source: ../examples/counters/counters.bpf.c, cflags: ["-DSLOTS=8"] }
            maps:
              hits: { max-entries: 8 }
            globals:
              slot: 6
            programs:
              count_pkts: {}
              tagged: { load: false }
              with_arg: { load: false }
        """)
        let result = try h.runner(spec).execute(.run)
        #expect(try h.run("\(h.pins.path)/globals-test/counters/progs/count_pkts") == 6)
        #expect(try result.objects[0].map(named: "hits")!.lookup(key: .le(UInt32(6))) == .le(UInt64(1)))
    }

    @Test func everyJSONLogLineParsesAndCarriesTheKeys() throws {
        let h = try PipelineHarness()
        _ = try h.runner(try h.decode(file: "\(repositoryRoot)/pipelines/c-plugin-prologue.yaml")).execute(.run)
        let records = try h.records()
        #expect(!records.isEmpty)
        for r in records {
            #expect(r["ts"] is String && r["level"] is String && r["msg"] is String && r["step"] is String)
        }
        let steps = Set(records.compactMap { $0["step"] as? String })
        #expect(steps.isSuperset(of: ["build", "open", "relocate", "preprocess", "load", "pin"]))
        let loads = records.filter { $0["step"] as? String == "load" && $0["instance"] != nil }
        #expect(loads.count == 4)
        for r in loads {
            #expect(r["object"] as? String == "counters")
            #expect(r["program"] as? String == "with_arg")
            #expect(r["instance"] is Int && r["prog_id"] is Int && r["insns"] is Int)
            #expect(r["duration_ms"] is Double || r["duration_ms"] is Int)
        }
        let pins = records.filter { $0["step"] as? String == "pin" && $0["pin"] != nil }
        #expect(pins.contains { ($0["pin"] as? String)?.hasSuffix("/progs/with_arg/3") == true })
        // Every step record has its duration.
        #expect(records.filter { $0["msg"] as? String == "load done" }.allSatisfy { $0["duration_ms"] != nil })
    }

    @Test func verifierFailureIsLoggedWithItsLogAndLeavesNothingBehind() throws {
        let h = try PipelineHarness()
        // A good deployment first; the failing run must leave it as it was.
        _ = try h.runner(try h.decode(file: "\(repositoryRoot)/pipelines/quickstart.yaml")).execute(.run)
        let before = h.pins.contents()
        let spec = try h.decode(text: """
        version: 1
        name: quickstart
        objects:
          - name: counters
            build: { source: ../examples/counters/counters.bpf.c }
            programs:
              count_pkts: { load: false }
              tagged:
                instances: 2
                preprocess:
                  - stage: prologue
                    with: { instructions: ["r0 = *(u64 *)(r9 + 0)"] }
              with_arg: { load: false }
        """)
        #expect(throws: LoaderError.self) { _ = try h.runner(spec).execute(.run) }
        #expect(h.pins.contents() == before)
        #expect(try h.run("\(h.pins.path)/quickstart/counters/progs/count_pkts/3") == 3)
        let failure = try h.records().first { $0["level"] as? String == "error" }
        #expect(failure?["step"] as? String == "load")
        #expect(failure?["program"] as? String == "tagged")
        #expect(failure?["instance"] as? Int == 0)
        #expect((failure?["verifier_log"] as? String)?.contains("R9 !read_ok") == true)
        #expect(failure?["error"] != nil)
    }

    @Test func planLoadsNothingAndPinsNothing() throws {
        let h = try PipelineHarness()
        let result = try h.runner(try h.decode(file: "\(repositoryRoot)/pipelines/quickstart.yaml")).execute(.plan)
        #expect(result.objects.allSatisfy { $0.maps.isEmpty && $0.programs.allSatisfy { !$0.isLoaded } })
        #expect(h.pins.contents().isEmpty)
        let p = result.report.objects[0].programs.first { $0.name == "count_pkts" }!
        #expect(p.instances.count == 4 && p.instances.allSatisfy { ($0.insns ?? 0) > 0 })
    }
}
