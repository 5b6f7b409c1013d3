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

        do {
            let reopened = try BPFLink.openPinned(pin)
            #expect(reopened.target == nil)
            #expect(try reopened.info().id == id)
        }

        let before = try count(obj, .tp)
        callGetpid(20)
        #expect(try count(obj, .tp) >= before + 20)

        #expect(kernelHasLink(id))
        #expect(unlink(pin) == 0)
        // The kernel frees an unpinned link after an RCU grace period, not at unlink(2).
        #expect(eventually { !kernelHasLink(id) }, "link \(id) still exists after its pin was removed")
        // The id goes first, the detach follows in the same release; wait for the counter to
        // stand still while getpid() is called (an attached link moves it every time).
        let stopped = try eventually {
            let before = try count(obj, .tp)
            callGetpid(20)
            return try count(obj, .tp) == before
        }
        #expect(stopped, "the counter still moves after the pin was removed")
    }

    @Test func openPinnedRefusesAMapPin() throws {
        let dir = try PinDirectory()
        let obj = try object()
        let pinned = try obj.pin(to: dir.path)
        let mapPin = try #require(pinned.first { $0.kind == .map }).path
        let e = #expect(throws: LoaderError.self) { try BPFLink.openPinned(mapPin) }
        #expect(e?.message == "pin is not a link (anon_inode:bpf-map)")
    }
}
