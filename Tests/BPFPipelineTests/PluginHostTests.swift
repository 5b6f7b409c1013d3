import Foundation
import Testing
@testable import BPFLoader
@testable import BPFPipeline
import BPFPipePluginABI
import BPFTestSupport

/// A SIGPIPE handler that does nothing, installed to see whether running a plugin changes it.
private let sigpipeMarker: @convention(c) (Int32) -> Void = { _ in }

/// The plugin host against plugins that misbehave without crashing: ones that print, hang,
/// return a negative count, write into their input, or fail in init. Each test checks what the
/// user sees (output, messages, results of the loaded programs) and what is left behind.
@Suite(.enabled(if: KernelGate.enabled, "needs bpf() as root"), .kernel)
struct PluginHostTests {
    init() {
        setenv("BPFPIPE_PLUGIN_HOST", bpfpipeExecutable, 1)
    }

    /// `tagged` with four instances, preprocessed by the faulty plugin in `isolation`.
    static func pipeline(_ name: String, plugin: String, with: String, isolation: String = "in-process",
                         pinRoot: String? = nil) -> String {
        """
        version: 1
        name: \(name)
        \(pinRoot.map { "pin-root: \($0)" } ?? "")
        objects:
          - name: counters
            build: { source: \(countersSource) }
            programs:
              tagged:
                instances: 4
                preprocess:
                  - plugin: \(plugin)
                    isolation: \(isolation)
                    with: \(with)
              count_pkts: { load: false }
              with_arg: { load: false }
        """
    }

    /// Runs `bpfpipe run` on `text` with `environment` added to this process's.
    static func runCLI(_ file: PipelineFile, environment: [String: String] = [:]) throws -> ProcessResult {
        var env = ProcessInfo.processInfo.environment
        env["BPFPIPE_PLUGIN_HOST"] = bpfpipeExecutable
        for (k, v) in environment { env[k] = v }
        return try ChildProcess(bpfpipeExecutable, ["run", file.path, "--cache-dir", file.cache], environment: env).wait(killingAfter: 180)
    }

    @Test func aPluginThatPrintsOnEveryCallRunsAndItsOutputIsOnStderrPrefixedWithItsName() throws {
        let plugin = try TestPlugin.faulty()
        defer { plugin.remove() }
        let pins = try PinDirectory()
        let file = try PipelineFile(Self.pipeline("chatty", plugin: plugin.path, with: "{ mode: chatty }",
                                                  isolation: "process", pinRoot: pins.path))
        let r = try Self.runCLI(file)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stderr.split(separator: "\n").map(String.init)
        for expected in ["faulty init says hello on stdout", "faulty init says hello on stderr"]
            + (0..<4).flatMap({ ["faulty prep \($0) on stdout", "faulty prep \($0) on stderr"] })
            + ["faulty fini on stdout", "faulty fini on stderr"] {
            #expect(lines.contains("[plugin faulty] \(expected)"), "missing '\(expected)' in:\n\(r.stderr)")
        }
        #expect(!r.stdout.contains("faulty"))
        // The protocol was not disturbed: every instance got the code back, marker intact.
        let h = try PipelineHarness()
        for n in 0..<4 { #expect(try h.run("\(pins.path)/chatty/counters/progs/tagged/\(n)") == 0x0badcafe) }
    }

    @Test func aPluginThatNeverAnswersIsKilledWithinTheBoundAndNamed() throws {
        let plugin = try TestPlugin.faulty()
        defer { plugin.remove() }
        let pins = try PinDirectory()
        let pidfile = plugin.folder.path + "/hang.pid"
        let file = try PipelineFile(Self.pipeline("hang", plugin: plugin.path, with: "{ mode: hang, pidfile: \"\(pidfile)\" }",
                                                  isolation: "process", pinRoot: pins.path))
        let r = try Self.runCLI(file, environment: ["BPFPIPE_PLUGIN_TIMEOUT": "5"])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("plugin faulty (\(plugin.path))"), "\(r.stderr)")
        #expect(r.stderr.contains("plugin \(plugin.path) did not answer within 5 s (BPFPIPE_PLUGIN_TIMEOUT); bpfpipe killed it"), "\(r.stderr)")
        #expect(r.stderr.contains("while preparing program 'tagged' instance 1"), "\(r.stderr)")
        let pid = try #require(Int32(try String(contentsOfFile: pidfile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(r.stderr.contains("(pid \(pid))"))
        // Gone, not left sleeping (nor as a zombie: bpfpipe reaped it).
        #expect(kill(pid, 0) == -1 && errno == ESRCH)
        #expect(pins.contents().isEmpty)
    }

    @Test func aTimeoutThatIsNotANumberOfSecondsIsRefused() throws {
        let plugin = try TestPlugin.faulty()
        defer { plugin.remove() }
        let pins = try PinDirectory()
        let file = try PipelineFile(Self.pipeline("badtimeout", plugin: plugin.path, with: "{}", isolation: "process", pinRoot: pins.path))
        let r = try Self.runCLI(file, environment: ["BPFPIPE_PLUGIN_TIMEOUT": "soon"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("BPFPIPE_PLUGIN_TIMEOUT must be a whole number of seconds from 1 to 86400, not 'soon'"), "\(r.stderr)")
    }

    @Test(arguments: ["in-process", "process"])
    func aNegativeInstructionCountIsAPluginError(isolation: String) throws {
        let plugin = try TestPlugin.faulty()
        defer { plugin.remove() }
        let h = try PipelineHarness()
        let spec = try h.decode(text: Self.pipeline("negative", plugin: plugin.path, with: "{ mode: negative }", isolation: isolation))
        let e = try #require(throws: LoaderError.self) { _ = try h.runner(spec).execute(.run) }
        #expect(e.step == .preprocess)
        #expect(e.location == "program 'tagged' instance 0")
        #expect(e.description.contains("plugin faulty (\(plugin.path))"))
        #expect(e.description.contains("prep returned new_insn_cnt -1; a count must be 0 (skip the instance) or more"), "\(e)")
        #expect(h.pins.contents().isEmpty)
    }

    @Test func aPluginThatWritesIntoItsInputCannotChangeWhatLaterInstancesSee() throws {
        let plugin = try TestPlugin.faulty()
        defer { plugin.remove() }
        let h = try PipelineHarness()
        _ = try h.runner(try h.decode(text: Self.pipeline("scribble", plugin: plugin.path, with: "{ mode: scribble }"))).execute(.run)
        for n in 0..<4 {
            // Each instance handed back its input unchanged; had instance 0's scribble reached
            // instance 1, it would return 0x5c5c.
            #expect(try h.run("\(h.pins.path)/scribble/counters/progs/tagged/\(n)") == 0x0badcafe, "instance \(n)")
        }
    }

    @Test(arguments: ["in-process", "process"])
    func aFailedInitHasItsMessageReadAndThenItsStateFreedByFini(isolation: String) throws {
        let plugin = try TestPlugin.faulty()
        defer { plugin.remove() }
        let log = plugin.folder.path + "/fini.log"
        let h = try PipelineHarness()
        let spec = try h.decode(text: Self.pipeline("initfail", plugin: plugin.path,
                                                    with: "{ mode: init-fails, fini-log: \"\(log)\" }", isolation: isolation))
        let e = try #require(throws: PipelineError.self) { _ = try h.runner(spec).execute(.run) }
        // last_error read the message out of the state before fini freed it.
        #expect(e.description.contains("plugin \(plugin.path): init returned 3: faulty refuses mode init-fails on purpose"), "\(e)")
        #expect(try String(contentsOfFile: log, encoding: .utf8) == "fini\n")
    }

    @Test func runningAnIsolatedPluginLeavesTheSIGPIPEHandlerAlone() throws {
        var mine = sigaction(), before = sigaction(), after = sigaction()
        mine.__sigaction_handler.sa_handler = sigpipeMarker
        sigaction(SIGPIPE, &mine, &before)
        defer { sigaction(SIGPIPE, &before, nil) }
        let plugin = try TestPlugin.faulty()
        defer { plugin.remove() }
        let h = try PipelineHarness()
        _ = try h.runner(try h.decode(text: Self.pipeline("sigpipe", plugin: plugin.path, with: "{}", isolation: "process"))).execute(.run)
        sigaction(SIGPIPE, nil, &after)
        let handler = unsafeBitCast(after.__sigaction_handler.sa_handler, to: Int.self)
        #expect(handler == unsafeBitCast(sigpipeMarker, to: Int.self), "SIGPIPE's handler was replaced")
    }

    @Test func instructionLayoutMatchesTheKernelsAndAMismatchIsCaught() {
        #expect(InstructionLayout.problem == nil)
        #expect(MemoryLayout<Instruction>.size == MemoryLayout<bpf_insn>.size)
        let wrong = InstructionLayout.mismatch(Instruction.self, UInt32.self)
        #expect(wrong?.contains("does not match UInt32 (size 4") == true, "\(wrong ?? "nil")")
    }
}
