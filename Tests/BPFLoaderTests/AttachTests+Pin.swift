import Foundation
import Testing
@testable import BPFLoader

/// Pinned links outlive their fd; removing the pin detaches.
extension AttachTests {
    @Test func pinnedLinkOutlivesItsFdAndUnlinkingThePinDetaches() throws {
        let dir = try PinDirectory()
        try BPFFS.makeDirectories(dir.path)
        let pin = dir.path + "/on_getpid"
        let obj = try object()
        var link: BPFLink? = try obj.program(named: "on_getpid")!.attach(.tracepoint(category: "syscalls", name: "sys_enter_getpid"))
        try link!.pin(at: pin)
        let id = try link!.info().id
        link = nil   // the fd closes; the pin holds the link

        let reopened = try BPFLink.openPinned(pin)
        #expect(reopened.target == nil)
        #expect(try reopened.info().id == id)
        _ = consume reopened

        let before = try count(obj, .tp)
        callGetpid(20)
        #expect(try count(obj, .tp) >= before + 20)

        #expect(unlink(pin) == 0)
        let stopped = try count(obj, .tp)
        callGetpid(20)
        #expect(try count(obj, .tp) == stopped)
        #expect(!bpftoolLinkIDs().contains(id))
    }

    @Test func openPinnedRefusesAMapPin() throws {
        let dir = try PinDirectory()
        let obj = try object()
        let pinned = try obj.pin(to: dir.path)
        let mapPin = try #require(pinned.first { $0.kind == .map }).path
        let e = #expect(throws: LoaderError.self) { try BPFLink.openPinned(mapPin) }
        #expect(e?.message == "pin is not a link (anon_inode:bpf-map)")
    }

    /// Link ids `bpftool link list` shows.
    func bpftoolLinkIDs() -> Set<UInt32> {
        guard let r = try? runBounded("/usr/sbin/bpftool", ["link", "list"], seconds: 30) else { return [] }
        return Set(r.stdout.split(separator: "\n").compactMap { line in
            line.first?.isNumber == true ? UInt32(line.prefix { $0.isNumber }) : nil
        })
    }
}
