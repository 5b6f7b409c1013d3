import Foundation
import Testing
@testable import BPFLoader
@testable import BPFPipeline
import BPFTestSupport

/// Errors carry their fields as values: the exit class is set where the error is made, and the
/// log record's program and instance are the error's own, never parsed back out of its text.
@Suite struct ExitClassTests {
    @Test func aStepFailureWhoseTextMentionsBPFFSIsStillAFailedStep() {
        let e = LoaderError(.pin, at: "/sys/fs/bpf/x", "the bpffs pin is not on a BPF filesystem, says the message")
        #expect(ExitClass.of(e) == .stepFailed)
        #expect(ExitClass.of(e).rawValue == 1)
    }

    @Test func aPathThatIsNotOnBPFFSIsTheEnvironment() throws {
        let dir = NSTemporaryDirectory() + "bpfpipe-not-bpffs-\(getpid())"
        let error = #expect(throws: LoaderError.self) { try BPFFS.prepare(dir) }
        #expect(error?.exitClass == .environment)
        #expect(error.map { ExitClass.of($0).rawValue } == 3)
    }

    @Test func anObjectThatCannotBeOpenedIsInvalidInput() {
        let error = #expect(throws: LoaderError.self) { _ = try BPFObject.open(path: "/nonexistent/bpfpipe-\(getpid()).o") }
        #expect(error?.step == .open)
        #expect(error.map { ExitClass.of($0).rawValue } == 2)
    }

    @Test func eppermIsTheEnvironmentWhateverTheStep() {
        #expect(LoaderError(.load, "refused", errno: .operationNotPermitted).exitClass == .environment)
        #expect(LoaderError(.load, "refused", errno: .permissionDenied).exitClass == .stepFailed)
        #expect(ExitClass.of(Errno.operationNotPermitted) == .environment)
        #expect(ExitClass.of(Errno.noSuchFile) == .stepFailed)
    }

    @Test func theSpecLayersErrorsCarryAClassToo() {
        let mark = SourceMark(file: "p.yaml", line: 3, column: 5)
        #expect(ExitClass.of(PipelineError(at: mark, "bad key")) == .invalidInput)
        #expect(ExitClass.of(DeploymentLock.Timeout(deployment: "/sys/fs/bpf/x", seconds: 0, path: "/run/lock/x")) == .environment)
        struct Other: Error {}
        #expect(ExitClass.of(Other()) == .stepFailed)
    }
}

@Suite(.enabled(if: KernelGate.enabled, "needs bpf() as root"), .kernel)
struct ErrorFieldTests {
    /// Through the CLI: a load-step failure whose message names a program called `bpffs_tail`
    /// exits 1 (a failed step), not 3, which searching the text for "bpffs" would have given.
    @Test func aLoadFailureNamingBPFFSExitsOneThroughTheCLI() throws {
        let pins = try PinDirectory()
        let file = try PipelineFile("""
        version: 1
        name: jumps
        pin-root: \(pins.path)
        objects:
          - name: j
            build: { source: \(repositoryRoot)/Tests/BPFPipelineTests/Pipelines/fixtures/bpffs_jump.bpf.c }
            programs:
              bpffs_tail: { load: false }
        """)
        let r = try runBPFPipe(["run", file.path, "--cache-dir", file.cache])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("load: map 'jumps' slot 0: names program 'bpffs_tail', which is not loaded"), "\(r.stderr)")
        #expect(pins.contents().isEmpty)
    }

    /// A failing instance's log record names the program and instance the error holds as values.
    /// The injected error's own location names a decoy program: text parsing would report it.
    @Test func aFailingInstancesRecordHasProgramAndInstanceFromTheErrorsValues() throws {
        let h = try PipelineHarness()
        var runner = h.runner(try h.decode(file: "\(repositoryRoot)/pipelines/quickstart.yaml"))
        runner.faultHook = { p in
            if p.step == .load && p.program == "count_pkts" && p.instance == 2 {
                throw LoaderError(.load, at: "program 'decoy' instance 9", "injected refusal")
            }
        }
        let error = #expect(throws: LoaderError.self) { _ = try runner.execute(.run) }
        #expect(error?.object == "counters")
        #expect(error?.program == "count_pkts")
        #expect(error?.instance == 2)
        #expect(error?.exitClass == .stepFailed)
        // The message reads as before: the location words are for people.
        #expect(error.map { "\($0)" }?.contains("load: program 'count_pkts' instance 2, program 'decoy' instance 9: injected refusal") == true)
        let failure = try #require(try h.records().first { $0["level"] as? String == "error" })
        #expect(failure["step"] as? String == "load")
        #expect(failure["object"] as? String == "counters")
        #expect(failure["program"] as? String == "count_pkts")
        #expect(failure["instance"] as? Int == 2)
        #expect(h.pins.contents().isEmpty)
    }
}
