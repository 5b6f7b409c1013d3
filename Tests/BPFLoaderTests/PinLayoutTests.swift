import Testing
@testable import BPFLoader

/// The pin layout, written down once in `PinLayout`: these literal paths are the layout users see.
@Suite struct PinLayoutTests {
    let d = PinLayout.deployment(root: "/sys/fs/bpf", name: "quick")

    @Test func deploymentObjectAndSharedFolders() {
        #expect(d.directory == "/sys/fs/bpf/quick")
        #expect(d.sharedDirectory == "/sys/fs/bpf/quick/shared")
        #expect(d.sharedMapPin("my.map") == "/sys/fs/bpf/quick/shared/my_map")
        #expect(d.objectDirectory("counters") == "/sys/fs/bpf/quick/counters")
    }

    @Test func programMapLinkAndDigestPinsOfAnObject() {
        let o = d.object("counters")
        #expect(o.programPin("count", instance: 0, instanceCount: 1) == "/sys/fs/bpf/quick/counters/progs/count")
        #expect(o.programPin("count", instance: 3, instanceCount: 4) == "/sys/fs/bpf/quick/counters/progs/count/3")
        #expect(o.linkPin("count", instance: 3, instanceCount: 4) == "/sys/fs/bpf/quick/counters/links/count/3")
        #expect(o.mapPin(".rodata") == "/sys/fs/bpf/quick/counters/maps/_rodata")
        #expect(o.digestPin == "/sys/fs/bpf/quick/counters/digest")
        #expect(o.programPin(forLink: "/sys/fs/bpf/quick/counters/links/count/3") == "/sys/fs/bpf/quick/counters/progs/count/3")
        #expect(o.programPin(forLink: "/sys/fs/bpf/quick/counters/maps/hits") == nil)
        #expect(PinLayout.isLinkPin("/sys/fs/bpf/quick/counters/links/count"))
        #expect(!PinLayout.isLinkPin("/sys/fs/bpf/quick/counters/progs/count"))
    }

    @Test func stagingFoldersAreMarkedAndRecognised() {
        #expect(d.stagingDirectory(pid: 42) == "/sys/fs/bpf/quick/_staging_42")
        #expect(PinLayout.stagingPID("_staging_42") == 42)
        #expect(PinLayout.stagingPID("_staging_x") == nil)
        #expect(PinLayout.stagingPID("counters") == nil)
        #expect(PinLayout.previousFolderName("counters") == "_previous_counters")
        #expect(PinLayout.previousObject("_previous_counters") == "counters")
        #expect(PinLayout.previousObject("_failed_counters") == nil)
    }
}
