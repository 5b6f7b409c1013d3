import Foundation
import Synchronization
import Testing
@testable import BPFLoader
@testable import BPFPipeline
import BPFTestSupport

/// A thread that calls getpid() in a loop between `start()` and `stop()`, counting its calls.
final class GetpidLoop: @unchecked Sendable {
    private let tidBox = Atomic<Int32>(0)
    private let running = Atomic<Bool>(false)
    private let stopping = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)
    private let made = Atomic<Int>(0)

    init() {
        let thread = Thread { [self] in
            tidBox.store(Getpid.thread, ordering: .sequentiallyConsistent)
            while !running.load(ordering: .acquiring) && !stopping.load(ordering: .acquiring) { usleep(1000) }
            while !stopping.load(ordering: .acquiring) {
                _ = getpid()
                made.add(1, ordering: .relaxed)
            }
            finished.store(true, ordering: .releasing)
        }
        thread.start()
    }

    /// The loop thread's id, once it has started (waits at most 10 s).
    func tid() throws -> Int32 {
        try wait("the loop thread to start") { tidBox.load(ordering: .sequentiallyConsistent) != 0 }
        return tidBox.load(ordering: .sequentiallyConsistent)
    }

    func start() { running.store(true, ordering: .releasing) }
    var calls: Int { made.load(ordering: .relaxed) }

    /// Stops the loop and returns the calls it made (waits at most 10 s for the thread to end).
    func stop() throws -> Int {
        stopping.store(true, ordering: .releasing)
        try wait("the loop thread to end") { finished.load(ordering: .acquiring) }
        return made.load(ordering: .relaxed)
    }

    /// Waits for `condition`, at most 10 s.
    func wait(_ what: String, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(10)
        while !condition() {
            if Date() > deadline { throw FixtureFailure("gave up waiting for \(what)") }
            usleep(1000)
        }
    }

    deinit { stopping.store(true, ordering: .releasing) }
}

/// Redeploys without a gap. A tracepoint link cannot change its program, so the new instance is
/// attached before the old folder (and its links) goes: for a moment both count, and no call of a
/// loop running through the redeploy is missed by both. Links that can (cgroup, xdp) are updated
/// in place: the same link, the new program, and the old program back if the run fails.
@Suite(.enabled(if: KernelGate.enabled, "needs bpf() as root"), .kernel, .serialized)
struct GaplessRedeployTests {
    @Test func noCallInTheRedeployWindowIsMissedByBothOldAndNew() throws {
        let h = try PipelineHarness()
        let loop = GetpidLoop()
        let text = Getpid.pipeline(tid: try loop.tid(), programs: Getpid.getpidOnly)
        _ = try h.runner(try h.decode(text: text)).execute(.run)
        let object = "\(h.pins.path)/att/o"
        // The old map stays readable through this fd after its pin goes with the old folder.
        let oldMap = try BPFFS.openPinned("\(object)/maps/calls")
        let oldLink = try BPFLink.openPinned("\(object)/links/count_getpid").info().id

        loop.start()
        try loop.wait("calls before the redeploy") { loop.calls >= 10_000 }
        _ = try h.runner(try h.decode(text: text)).execute(.run)
        // The old link is gone (bpffs lets go of it after an RCU grace period), then more calls.
        #expect(try Getpid.linksGone([oldLink]))
        let afterRedeploy = loop.calls
        try loop.wait("calls after the redeploy") { loop.calls >= afterRedeploy + 10_000 }
        let calls = try loop.stop()

        let old = try Getpid.count(oldMap, 0)
        let new = try Getpid.count("\(object)/maps/calls", 0)
        print("gapless redeploy: \(calls) calls, old counted \(old), new counted \(new), both counted \(Int(old + new) - calls)")
        #expect(Int(old + new) >= calls, "calls \(calls), old \(old), new \(new)")
        // Each program saw only part of the loop: the window was real.
        #expect(old < UInt64(calls) && new < UInt64(calls) && old >= 10_000 && new >= 10_000, "calls \(calls), old \(old), new \(new)")
    }

    /// A veth pair in this namespace (no traffic needed: the tests read which program the link runs).
    final class Veth {
        let name: String
        init() throws {
            let id = String(UInt32.random(in: 0..<UInt32.max), radix: 16)
            name = "bpa\(id)"
            let r = try runProcess("/usr/sbin/ip", ["link", "add", name, "type", "veth", "peer", "name", "bpb\(id)"])
            guard r.status == 0 else { throw FixtureFailure("ip link add: \(r.stderr)") }
        }
        deinit { _ = try? runProcess("/usr/sbin/ip", ["link", "del", name]) }
    }

    /// A cgroup v2 folder of its own.
    final class Cgroup {
        let path = "/sys/fs/cgroup/unified/bpfpipe-test-\(UUID().uuidString.prefix(8))"
        init() throws { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false) }
        deinit { rmdir(path) }
    }

    @Test(arguments: ["cgroup", "xdp", "tc"])
    func linksThatCanSwapTheirProgramAreUpdatedInPlace(_ kind: String) throws {
        let h = try PipelineHarness()
        let veth = kind == "cgroup" ? nil : try Veth()
        let cgroup = kind == "cgroup" ? try Cgroup() : nil
        let program = ["cgroup": "allow_sock", "xdp": "pass_xdp", "tc": "pass_tc"][kind]!
        func pipeline(_ target: String) -> String {
            let others = ["allow_sock", "pass_xdp", "pass_tc"].filter { $0 != program }.map { "\($0): { load: false }" }
            return Getpid.pipeline(programs: (["count_getpid: { load: false }", "count_slot: { load: false }"] + others
                                              + ["\(program): { attach: { \(target) } }"]).joined(separator: "\n"))
        }
        let text = pipeline(["cgroup": "cgroup: { path: \(cgroup?.path ?? "") }", "xdp": "xdp: { interface: \(veth?.name ?? "") }",
                             "tc": "tc: { interface: \(veth?.name ?? ""), direction: ingress }"][kind]!)
        let object = "\(h.pins.path)/att/o"
        let linkPin = "\(object)/links/\(program)"
        _ = try h.runner(try h.decode(text: text)).execute(.run)
        let v1 = try BPFLink.openPinned(linkPin).info()
        #expect(v1.programID == (try PinTree.programID("\(object)/progs/\(program)")))

        let from = h.lines.lines.count
        _ = try h.runner(try h.decode(text: text)).execute(.run)
        let v2 = try BPFLink.openPinned(linkPin).info()
        let v2Program = try PinTree.programID("\(object)/progs/\(program)")
        #expect(v2.id == v1.id, "the same link")
        #expect(v2.programID == v2Program && v2Program != v1.programID, "runs the new instance")
        let record = try h.records(from: from).first { $0["step"] as? String == "attach" && $0["link_id"] != nil }
        #expect(record?["msg"] as? String == "link updated in place" && record?["link_id"] as? Int == Int(v1.id))

        // A run that fails after updating gives the link its program back.
        var failing = h.runner(try h.decode(text: text))
        failing.faultHook = { if $0.description == "pin o swapped" { throw InjectedFault(point: "pin o swapped") } }
        #expect(throws: InjectedFault.self) { _ = try failing.execute(.run) }
        let back = try BPFLink.openPinned(linkPin).info()
        #expect(back.id == v1.id && back.programID == v2Program)

        // Another cgroup or interface is another target: a new link there, and the old one goes.
        if kind == "cgroup" {
            let other = try Cgroup()
            _ = try h.runner(try h.decode(text: pipeline("cgroup: { path: \(other.path) }"))).execute(.run)
            let moved = try BPFLink.openPinned(linkPin).info()
            #expect(moved.id != v1.id)
            #expect(try Getpid.linksGone([v1.id]))
            _ = Deployment(spec: try h.decode(text: text)).down(includeKept: true)
            #expect(try Getpid.linksGone([moved.id]))
        }
    }
}
