import Foundation
import Testing
@testable import BPFLoader
@testable import BPFPipeline
import BPFTestSupport

/// The attach step of a run against the real kernel: links pinned under `<object>/links/`, the
/// programs behind them running (a getpid() counter moves by exactly the calls made), the log and
/// the report naming every link, and a refused target failing the run with nothing attached.
@Suite(.enabled(if: KernelGate.enabled, "needs bpf() as root"), .kernel, .serialized)
struct AttachRunTests {
    @Test func sectionAndFileTargetsAttachPinAndRun() throws {
        let h = try PipelineHarness()
        let spec = try h.decode(text: Getpid.pipeline(programs: Getpid.twoPrograms))
        let result = try h.runner(spec).execute(.run)
        let object = "\(h.pins.path)/att/o"
        let pins = ["count_getpid", "count_slot/0", "count_slot/1"].map { "\(object)/links/\($0)" }
        for pin in pins { #expect(Paths.exists(pin), "\(pin)") }

        // The programs run: 5 getpid() and 3 getppid() calls of this thread.
        let map = try BPFFS.openPinned("\(object)/maps/calls")
        let before = try (0..<3).map { try Getpid.count(map, UInt32($0)) }
        Getpid.call(5)
        for _ in 0..<3 { _ = getppid() }
        let after = try (0..<3).map { try Getpid.count(map, UInt32($0)) }
        #expect(zip(after, before).map { $0 - $1 } == [5, 5, 3])

        // Each link runs the instance pinned beside it, and the log and report say which link it is.
        let records = try h.records().filter { $0["step"] as? String == "attach" && $0["msg"] as? String == "attached" }
        #expect(records.count == 3)
        let links = result.report.objects[0].links
        #expect(links.count == 3)
        for (pin, program) in zip(pins, ["count_getpid", "count_slot/0", "count_slot/1"]) {
            let info = try BPFLink.openPinned(pin).info()
            #expect(info.programID == (try PinTree.programID("\(object)/progs/\(program)")))
            let record = records.first { ($0["link_id"] as? Int).map(UInt32.init) == info.id }
            #expect(record?["pin"] as? String == pin && record?["object"] as? String == "o", "\(records)")
            #expect(links.contains { $0.linkID == info.id && $0.pin == pin && $0.programID == info.programID })
        }
        let slot1 = try #require(records.first { $0["program"] as? String == "count_slot" && $0["instance"] as? Int == 1 })
        #expect(slot1["target"] as? String == "tracepoint syscalls/sys_enter_getppid")
        #expect(records.first { $0["program"] as? String == "count_getpid" }?["target"] as? String == "tracepoint syscalls/sys_enter_getpid")
    }

    @Test func attachFalseLoadsAndPinsOnly() throws {
        let h = try PipelineHarness()
        let spec = try h.decode(text: Getpid.pipeline(programs: "count_getpid: { attach: false }\ncount_slot: { load: false }\nallow_sock: { load: false }\npass_xdp: { load: false }\npass_tc: { load: false }"))
        let result = try h.runner(spec).execute(.run)
        let object = "\(h.pins.path)/att/o"
        #expect(Paths.exists("\(object)/progs/count_getpid"))
        #expect(!Paths.exists("\(object)/links"))
        #expect(result.report.objects[0].links.isEmpty)
        let before = try Getpid.count("\(object)/maps/calls", 0)
        Getpid.call(4)
        #expect(try Getpid.count("\(object)/maps/calls", 0) == before)
    }

    /// A target the kernel refuses (no kprobes on this kernel; no such tracepoint) fails the run,
    /// naming object, program, instance and target, after instance 0 was attached: that link is
    /// gone and the previous deployment still counts.
    @Test(arguments: [
        ("- kprobe: { function: do_nanosleep }", "kprobe do_nanosleep"),
        ("- tracepoint: syscalls/sys_enter_no_such_call", "tracepoint syscalls/sys_enter_no_such_call"),
    ])
    func aRefusedTargetFailsTheRunWithNothingAttached(_ second: String, _ target: String) throws {
        let h = try PipelineHarness()
        _ = try h.runner(try h.decode(text: Getpid.pipeline(programs: Getpid.getpidOnly))).execute(.run)
        let object = "\(h.pins.path)/att/o"
        let before = try PinTree.snapshot(h.pins.path)
        let bad = try h.decode(text: Getpid.pipeline(programs: """
        allow_sock: { load: false }
        pass_xdp: { load: false }
        pass_tc: { load: false }
        count_getpid:
        count_slot:
          instances: 2
          attach:
            - tracepoint: syscalls/sys_enter_getpid
            \(second)
          preprocess:
            - stage: patch-imm
              with: { values: [1, 2] }
        """))
        let from = h.lines.lines.count
        let error = #expect(throws: LoaderError.self) { _ = try h.runner(bad).execute(.run) }
        let text = error.map { "\($0)" } ?? ""
        #expect(error?.step == .attach)
        #expect(text.contains("program 'count_slot' instance 1 of object 'o'") && text.contains(target), "\(text)")
        let records = try h.records(from: from)
        let attached = Getpid.loggedLinkIDs(records)
        #expect(attached.count == 2, "count_getpid and count_slot[0] attached before the failure: \(records)")
        #expect(try Getpid.linksGone(attached))
        let failure = records.first { $0["level"] as? String == "error" }
        #expect(failure?["step"] as? String == "attach" && failure?["program"] as? String == "count_slot" && failure?["instance"] as? Int == 1)
        #expect(try PinTree.snapshot(h.pins.path) == before)
        let count = try Getpid.count("\(object)/maps/calls", 0)
        Getpid.call(3)
        #expect(try Getpid.count("\(object)/maps/calls", 0) == count + 3)
    }

    /// The CLI: a target the system does not have is exit 1, naming object, program, instance
    /// and target, and nothing stays pinned.
    @Test func theCommandExitsWith1NamingTheTarget() throws {
        let h = try PipelineHarness()
        let file = try PipelineFile(Getpid.pipeline(programs: Getpid.getpidOnly.replacingOccurrences(
            of: "pass_xdp: { load: false }", with: "pass_xdp: { attach: { xdp: { interface: bpnosuch0 } } }"),
            root: h.pins.path, source: "\(repositoryRoot)/Tests/BPFPipelineTests/Pipelines/fixtures/getpid_counter.bpf.c"))
        let r = try runBPFPipe(["run", file.path, "--cache-dir", file.cache])
        #expect(r.status == 1)
        #expect(r.stderr.contains("attach: program 'pass_xdp' instance 0 of object 'o': cannot attach to xdp on bpnosuch0 (auto)"), "\(r.stderr)")
        #expect(h.pins.contents().filter { !$0.hasSuffix("att") }.isEmpty, "\(h.pins.contents())")
    }

    /// `down` removes the link pins, which detaches: the counter stops moving.
    @Test func downDetaches() throws {
        let h = try PipelineHarness()
        let spec = try h.decode(text: Getpid.pipeline(programs: Getpid.twoPrograms))
        _ = try h.runner(spec).execute(.run)
        let object = "\(h.pins.path)/att/o"
        let map = try BPFFS.openPinned("\(object)/maps/calls")
        let ids = try ["count_getpid", "count_slot/0", "count_slot/1"].map { try BPFLink.openPinned("\(object)/links/\($0)").info().id }
        #expect(try Getpid.kernelLinkIDs().isSuperset(of: ids))
        let removed = Deployment(spec: spec).down(includeKept: false)
        #expect(removed.filter { $0.contains("/links/") }.count == 3)
        #expect(try Getpid.linksGone(ids))
        #expect(try Getpid.stopsCounting(map, 0) && Getpid.stopsCounting(map, 1))
        #expect(!Paths.exists("\(h.pins.path)/att"))
    }
}
