import Testing
@testable import BPFLoader

/// Loads fixtures into the real kernel and test-runs their programs: each feature is proved by the
/// value the C source computes, not by the load succeeding.
@Suite(.enabled(if: KernelGate.enabled, "needs bpf() as root"), .kernel)
struct LoaderTests {
    func loadedFeatures() throws -> BPFObject {
        var options = LoadOptions()
        options.pinMapsByNameDirectory = nil
        let obj = try BPFObject.open(path: try Fixtures.object("features"), options: options)
        try obj.load()
        return obj
    }

    @Test func legacyMapsSectionWorks() throws {
        let obj = try loadedFeatures()
        #expect(try obj.program(named: "test_legacy")!.run() == 42)
        let value = try obj.map(named: "legacy_counts")!.lookup(key: .le(UInt32(1)))
        #expect(value == .le(UInt64(42)))
    }

    @Test func btfDefinedMapWorksAndCarriesBTFTypes() throws {
        let obj = try loadedFeatures()
        #expect(try obj.program(named: "test_btf_map")!.run() == 1001)
        let map = obj.map(named: "btf_hash")!
        #expect(map.definition.btfKeyTypeID != 0 && map.definition.btfValueTypeID != 0)
        let info = try BPFCommand.mapInfo(map.fd).get()
        #expect(info.btf_key_type_id == map.definition.btfKeyTypeID)
        #expect(try map.lookup(key: .le(UInt32(3))) == .le(UInt64(1000)))
    }

    @Test func everyGlobalDataSectionHoldsItsInitialValue() throws {
        let obj = try loadedFeatures()
        let p = obj.program(named: "test_globals")!
        // 7 (.data) + 5 (.rodata) + 3 (.bss, incremented per run) + 11 (.data.custom) + 13 (.rodata.custom)
        #expect(try p.run() == 39)
        #expect(try p.run() == 42)
        let names = Set(obj.maps.filter(\.definition.isGlobalData).map(\.name))
        // Named as libbpf names them.
        #expect(names == ["features.data", "features.rodata", "features.bss", ".data.custom", ".rodata.custom"])
        let rodata = obj.map(named: "features.rodata")!
        #expect(rodata.definition.freezeAfterInit)
        // Frozen: user space can no longer write it.
        #expect(throws: Errno.self) { try rodata.update(key: .le(UInt32(0)), value: [UInt8](repeating: 0, count: Int(rodata.definition.valueSize))) }
    }

    @Test func staticAndGlobalSubprogramsAreLinked() throws {
        let obj = try loadedFeatures()
        let p = obj.program(named: "test_subprogs")!
        #expect(try p.run() == 25)
        #expect(p.linked!.functionStarts.count == 3)
        #expect(p.linked!.funcInfo.count == 3)
    }

    @Test func bpfLoopCallbackIsRelocatedAsPseudoFunc() throws {
        let obj = try loadedFeatures()
        let p = obj.program(named: "test_callback")!
        #expect(try p.run() == 45)
        #expect(p.linked!.instructions.contains { $0.isPseudoFunc })
    }

    @Test func mapInMapSlotsAreFilledFromInitialValues() throws {
        let obj = try BPFObject.open(path: try Fixtures.object("map_in_map"))
        try obj.load()
        #expect(try obj.program(named: "test_map_in_map")!.run() == 77)
        #expect(try obj.map(named: "inner_b")!.lookup(key: .le(UInt32(0))) == .le(UInt32(77)))
        #expect(try obj.map(named: "inner_a")!.lookup(key: .le(UInt32(0))) == .le(UInt32(0)))
    }

    @Test func programArraySlotsAreFilledAfterLoad() throws {
        let obj = try BPFObject.open(path: try Fixtures.object("map_in_map"))
        try obj.load()
        #expect(try obj.program(named: "test_tail_call")!.run() == 99)
    }

    @Test func verifierRejectionCarriesTheLogAndTheSourceLine() throws {
        let src = """
        #include <linux/bpf.h>
        #include <bpf/bpf_helpers.h>
        char LICENSE[] SEC("license") = "GPL";
        SEC("socket") int bad(struct __sk_buff *skb) {
            int *p = (int *)(long)skb->len;
            return *p;
        }
        """
        let obj = try BPFObject.open(path: try compileInline(src, name: "bad"))
        let error = #expect(throws: LoaderError.self) { try obj.load() }
        #expect(error?.step == .load)
        #expect(error?.verifierLog?.contains("invalid mem access") == true)
        #expect(error?.location?.contains("return *p;") == true)
        #expect(error?.description.contains("program 'bad'") == true)
        #expect(obj.maps.isEmpty && obj.btfFD == nil)
    }
}

/// Writes `source` to a temporary file and compiles it.
func compileInline(_ source: String, name: String) throws -> String {
    let src = "\(Fixtures.outputDirectory)/\(name)-\(abs(source.hashValue)).bpf.c"
    try source.write(toFile: src, atomically: true, encoding: .utf8)
    let out = src + ".o"
    try Fixtures.compile(source: src, output: out)
    return out
}
