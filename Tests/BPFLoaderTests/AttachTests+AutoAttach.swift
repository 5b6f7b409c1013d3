import Foundation
import Testing
@testable import BPFLoader

/// `BPFObject.attachAndPinLinks(under:)`, the library side of `load --attach`: one link per
/// instance, pinned per instance; all or nothing.
extension AttachTests {
    func openCounters() throws -> BPFObject {
        var options = LoadOptions()
        options.pinMapsByNameDirectory = nil
        return try BPFObject.open(path: try Fixtures.object("attach_counters"), options: options)
    }

    @Test func everyInstanceGetsAPinnedLinkAndRuns() throws {
        let dir = try PinDirectory()
        let obj = try openCounters()
        // Three instances of the getpid counter; the preprocessor skips instance 1.
        try obj.program(named: "on_getpid")!.setPreprocessor(instances: 3) { ctx, insns in ctx.instance == 1 ? nil : insns }
        obj.program(named: "on_kprobe")!.autoload = false   // no kprobes on this kernel
        try obj.load()
        let links = try obj.attachAndPinLinks(under: dir.path)
        #expect(links.map(\.path).sorted() == [
            "\(dir.path)/links/on_getpid/0", "\(dir.path)/links/on_getpid/2",
            "\(dir.path)/links/on_switch_btf", "\(dir.path)/links/on_switch_raw",
        ])
        let instance2 = try #require(links.first { $0.program == "on_getpid" && $0.instance == 2 })
        #expect(instance2.programID == (try BPFCommand.programInfo(try obj.program(named: "on_getpid")!.fd(instance: 2)).get().id))
        #expect(instance2.target == "tracepoint syscalls/sys_enter_getpid")
        #expect(links.allSatisfy { kernelHasLink($0.id) })
        // Two instances attached: every getpid() counts twice.
        let before = try count(obj, .tp)
        callGetpid(20)
        #expect(try count(obj, .tp) >= before + 40)
    }

    @Test func aTargetThatFailsUndoesEveryLinkMadeBeforeIt() throws {
        let dir = try PinDirectory()
        let obj = try openCounters()
        try obj.load()
        // on_kprobe comes after on_getpid, on_switch_raw and on_switch_btf, which attach first.
        guard !FileManager.default.fileExists(atPath: "/sys/bus/event_source/devices/kprobe") else { return }
        let e = #expect(throws: LoaderError.self) { try obj.attachAndPinLinks(under: dir.path) }
        #expect(e?.step == .attach)
        #expect(e?.location == "program 'on_kprobe' instance 0")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/links"))
        let stopped = try eventually {
            let before = try count(obj, .tp)
            callGetpid(20)
            return try count(obj, .tp) == before
        }
        #expect(stopped, "the getpid link made before the failure still runs")
    }
}
