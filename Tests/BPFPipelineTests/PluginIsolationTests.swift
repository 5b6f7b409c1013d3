import Foundation
import Testing
@testable import BPFLoader
@testable import BPFPipeline
import BPFTestSupport

/// `isolation: process`: the plugin runs in a `bpfpipe plugin-host` child, so its crash is an
/// error naming the plugin and the instance, and bpfpipe (here: the test process) survives.
@Suite(.enabled(if: KernelGate.enabled, "needs bpf() as root"), .kernel)
struct PluginIsolationTests {
    /// The host is the bpfpipe binary beside the test bundle.
    init() {
        setenv("BPFPIPE_PLUGIN_HOST", bpfpipeExecutable, 1)
    }

    func crashyPlugin() throws -> String {
        let source = "\(repositoryRoot)/Tests/BPFPipelineTests/Pipelines/plugins/crashy.c"
        let out = NSTemporaryDirectory() + "libcrashy-\(getpid()).so"
        try buildPlugin(source: source, output: out)
        return out
    }

    @Test func crashInAnIsolatedPluginIsAnErrorNamingPluginProgramAndInstance() throws {
        let h = try PipelineHarness()
        let plugin = try crashyPlugin()
        let spec = try h.decode(text: """
        version: 1
        name: isolation
        objects:
          - name: counters
            build: { source: ../examples/counters/counters.bpf.c }
            programs:
              tagged:
                instances: 3
                preprocess:
                  - plugin: \(plugin)
                    isolation: process
              count_pkts: { load: false }
              with_arg: { load: false }
        """)
        let error = #expect(throws: LoaderError.self) { _ = try h.runner(spec).execute(.run) }
        #expect(error?.step == .preprocess)
        #expect(error?.location == "program 'tagged' instance 1")
        #expect(error?.message.contains("crashy") == true)
        #expect(error?.message.contains("crashed with signal 11") == true)
        #expect(h.pins.contents().isEmpty)
    }

    @Test func isolatedPluginGivesTheSameResultsAsInProcess() throws {
        let h = try PipelineHarness()
        let spec = try h.decode(text: """
        version: 1
        name: isolation-ok
        objects:
          - name: counters
            build: { source: ../examples/counters/counters.bpf.c }
            programs:
              with_arg:
                instances: 3
                preprocess:
                  - plugin: argprologue
                    isolation: process
                    with: { base: 40, step: 2 }
              count_pkts: { load: false }
              tagged: { load: false }
        """)
        _ = try h.runner(spec).execute(.run)
        for n in 0..<3 {
            #expect(try h.run("\(h.pins.path)/isolation-ok/counters/progs/with_arg/\(n)") == UInt32(40 + 2 * n + 1))
        }
    }
}
