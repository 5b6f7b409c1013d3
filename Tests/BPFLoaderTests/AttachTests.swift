import Foundation
import Testing
@testable import BPFLoader

/// Attaching with BPF links, against the real kernel. Every test proves the program RAN: a
/// counter in the fixture's `counts` map moves after the test triggers the event.
@Suite(.enabled(if: KernelGate.enabled, "needs bpf() as root"), .kernel)
struct AttachTests {
    /// Slots of `counts` in attach_counters.bpf.c.
    enum Slot: UInt32 { case tp, rawTP, tpBTF, uprobe, uretprobe, xdp1, xdp2, tcx, cgroupSock, kprobe }

    func object() throws -> BPFObject {
        var options = LoadOptions()
        options.pinMapsByNameDirectory = nil
        let obj = try BPFObject.open(path: try Fixtures.object("attach_counters"), options: options)
        try obj.load()
        return obj
    }

    func count(_ obj: BPFObject, _ slot: Slot) throws -> UInt64 {
        let key = withUnsafeBytes(of: slot.rawValue.littleEndian) { Array($0) }
        let value = try #require(try obj.map(named: "counts")!.lookup(key: key))
        return value.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    }

    func callGetpid(_ times: Int = 20) {
        for _ in 0..<times { _ = getpid() }
    }

    func sleepALittle(_ times: Int = 5) {
        // Each sleep switches this thread out and back in: two sched_switch events at least.
        for _ in 0..<times { usleep(1000) }
    }

    // MARK: tracepoints

    @Test func tracepointFromItsSectionCountsGetpid() throws {
        let obj = try object()
        let p = obj.program(named: "on_getpid")!
        let target = try #require(LinkTarget.fromSection(p.section))
        #expect(target == .tracepoint(category: "syscalls", name: "sys_enter_getpid"))
        let link = try p.attach(target)
        let before = try count(obj, .tp)
        callGetpid(20)
        #expect(try count(obj, .tp) >= before + 20)
        let info = try link.info()
        #expect(info.type == LinkType.perfEvent)
        #expect(info.programID == (try BPFCommand.programInfo(try p.fd()).get().id))
    }

    @Test func rawTracepointCountsSchedSwitch() throws {
        let obj = try object()
        let p = obj.program(named: "on_switch_raw")!
        let link = try p.attach(try #require(LinkTarget.fromSection(p.section)))
        #expect(try link.info().type == LinkType.rawTracepoint)
        let before = try count(obj, .rawTP)
        sleepALittle()
        #expect(try count(obj, .rawTP) > before)
    }

    @Test func tpBTFCountsSchedSwitch() throws {
        let obj = try object()
        let p = obj.program(named: "on_switch_btf")!
        #expect(LinkTarget.fromSection(p.section) == .tracing)
        let link = try p.attach(.tracing)
        // The kernel makes a raw-tracepoint link for tp_btf (tracing links are fentry/fexit's).
        #expect(try link.info().type == LinkType.rawTracepoint)
        let before = try count(obj, .tpBTF)
        sleepALittle()
        #expect(try count(obj, .tpBTF) > before)
    }

    @Test func closingTheLinkDetaches() throws {
        let obj = try object()
        var link: BPFLink? = try obj.program(named: "on_getpid")!.attach(.tracepoint(category: "syscalls", name: "sys_enter_getpid"))
        callGetpid()
        #expect(try count(obj, .tp) >= 20)
        _ = link
        link = nil
        // A program already running on another cpu may still finish its increment; after that
        // the counter must stand still while getpid() is called.
        let stopped = try eventually {
            let before = try count(obj, .tp)
            callGetpid()
            return try count(obj, .tp) == before
        }
        #expect(stopped, "the counter still moves after the link's fd was closed")
    }

    @Test func missingTracepointIsAClearError() throws {
        let obj = try object()
        let e = #expect(throws: LoaderError.self) {
            try obj.program(named: "on_getpid")!.attach(.tracepoint(category: "syscalls", name: "sys_enter_no_such_call"))
        }
        #expect(e?.step == .attach)
        #expect(e?.file == obj.path)
        #expect(e?.location == "program 'on_getpid' instance 0")
        #expect(e?.message == "cannot attach to tracepoint syscalls/sys_enter_no_such_call: no tracepoint 'syscalls/sys_enter_no_such_call' in this kernel (no /sys/kernel/tracing/events/syscalls/sys_enter_no_such_call)")
        #expect(e?.errno == .noSuchFile)
    }

    @Test func missingRawTracepointIsAClearError() throws {
        let obj = try object()
        let e = #expect(throws: LoaderError.self) {
            try obj.program(named: "on_switch_raw")!.attach(.rawTracepoint(name: "no_such_raw_tracepoint"))
        }
        #expect(e?.step == .attach)
        #expect(e?.location == "program 'on_switch_raw' instance 0")
        #expect(e?.message == "cannot attach to raw tracepoint no_such_raw_tracepoint: no raw tracepoint 'no_such_raw_tracepoint' in this kernel")
    }

    @Test func kprobesAreNotAvailableHere() throws {
        let obj = try object()
        let p = obj.program(named: "on_kprobe")!
        let target = try #require(LinkTarget.fromSection(p.section))
        #expect(target == .kprobe(function: "do_nanosleep", offset: 0, isReturn: false))
        // This kernel has no kprobe PMU; where one exists the attach must simply work.
        guard !FileManager.default.fileExists(atPath: "/sys/bus/event_source/devices/kprobe") else {
            _ = try p.attach(target)
            return
        }
        let e = #expect(throws: LoaderError.self) { try p.attach(target) }
        #expect(e?.step == .attach)
        #expect(e?.location == "program 'on_kprobe' instance 0")
        #expect(e?.message == "cannot attach to kprobe do_nanosleep: kprobes are not available on this kernel (no kprobe PMU in /sys/bus/event_source/devices)")
        #expect(e?.errno == .notSupported)
    }
}
