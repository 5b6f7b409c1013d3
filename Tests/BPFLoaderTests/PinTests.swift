import Foundation
import Testing
@testable import BPFLoader

@Suite(.enabled(if: KernelGate.enabled, "needs bpf() as root"), .kernel)
struct PinTests {
    @Test func layoutHasOnePinPerProgramInstanceAndMap() throws {
        let dir = try PinDirectory()
        let obj = try BPFObject.open(path: try Fixtures.object("instances"))
        try obj.program(named: "which")!.setPreprocessor(instances: 4) { ctx, insns in
            ctx.instance == 2 ? nil : try patchMarker(ctx, insns)
        }
        try obj.load()
        let pinned = try obj.pin(to: dir.path)
        #expect(dir.contents() == ["progs", "progs/which", "progs/which/0", "progs/which/1", "progs/which/3", "progs/which_sub"])
        #expect(pinned.filter { $0.name == "which" }.map(\.instance) == [0, 1, 3])
        // The pin is the program: open it again and run it.
        let fd = try BPFCommand.get(pinned: "\(dir.path)/progs/which/3").get()
        #expect(try BPFCommand.testRun(fd, data: testPacket).get().returnValue == 3)
        #expect(pinned.allSatisfy { $0.id != 0 })
    }

    @Test func mapPinsReplaceDotsWithUnderscores() throws {
        let dir = try PinDirectory()
        let obj = try BPFObject.open(path: try Fixtures.object("features"))
        try obj.load()
        _ = try obj.pin(to: dir.path)
        let maps = dir.contents().filter { $0.hasPrefix("maps/") }
        #expect(maps == ["maps/_data_custom", "maps/_rodata_custom", "maps/btf_hash", "maps/features_bss", "maps/features_data", "maps/features_rodata", "maps/legacy_counts"])
    }

    @Test func byNameMapIsPinnedAndReusedAcrossLoads() throws {
        let shared = try PinDirectory()
        try BPFFS.makeDirectories(shared.path)
        var options = LoadOptions()
        options.pinMapsByNameDirectory = shared.path
        let path = try Fixtures.object("pinned_by_name")

        let first = try BPFObject.open(path: path, options: options)
        try first.load()
        let out1 = try PinDirectory()
        _ = try first.pin(to: out1.path)
        #expect(shared.contents() == ["shared_counts"])
        #expect(try first.program(named: "bump")!.run() == 1)

        let second = try BPFObject.open(path: path, options: options)
        try second.load()
        #expect(second.map(named: "shared_counts")!.reusedFrom == "\(shared.path)/shared_counts")
        // The same map: the count goes on from where the first object left it.
        #expect(try second.program(named: "bump")!.run() == 2)
    }

    @Test func incompatiblePinnedMapIsRefusedListingTheDifferences() throws {
        let shared = try PinDirectory()
        try BPFFS.makeDirectories(shared.path)
        var options = LoadOptions()
        options.pinMapsByNameDirectory = shared.path
        let first = try BPFObject.open(path: try Fixtures.object("pinned_by_name"), options: options)
        try first.load()
        let out = try PinDirectory()
        _ = try first.pin(to: out.path)

        let other = try BPFObject.open(path: try Fixtures.object("pinned_by_name", flags: ["-DSHARED_ENTRIES=16"]), options: options)
        let e = #expect(throws: LoaderError.self) { try other.load() }
        #expect(e?.step == .relocate)
        #expect(e?.message.contains("max entries: pinned 8, object wants 16") == true)
        #expect(e?.message.contains("key size") == false)
    }

    @Test func failedPinLeavesNothingBehind() throws {
        let dir = try PinDirectory()
        let obj = try BPFObject.open(path: try Fixtures.object("features"))
        try obj.load()
        // Something already sits where the last map's pin goes.
        try BPFFS.makeDirectories(dir.path + "/maps")
        let blocker = try BPFObject.open(path: try Fixtures.object("instances"))
        try blocker.load()
        try BPFCommand.pin(try blocker.program(named: "which")!.fd(), at: dir.path + "/maps/legacy_counts").get()
        let e = #expect(throws: LoaderError.self) { _ = try obj.pin(to: dir.path) }
        #expect(e?.step == .pin)
        #expect(e?.errno == .fileExists)
        #expect(dir.contents() == ["maps", "maps/legacy_counts"])
    }

    @Test func pinningOutsideBPFFSIsRefused() throws {
        let obj = try BPFObject.open(path: try Fixtures.object("instances"))
        try obj.load()
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("not-bpffs-\(getpid())").path
        let e = #expect(throws: LoaderError.self) { _ = try obj.pin(to: tmp) }
        #expect(e?.message.contains("not on a BPF filesystem") == true)
        #expect(!FileManager.default.fileExists(atPath: tmp))
    }
}
