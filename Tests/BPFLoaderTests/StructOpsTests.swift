import Foundation
import Testing
@testable import BPFLoader

/// struct_ops: a `.struct_ops` variable becomes a BPF_MAP_TYPE_STRUCT_OPS map whose programs load
/// against the kernel's ops struct; after the load the map's update registers the ops (here a TCP
/// congestion control, visible in /proc/sys/net/ipv4/tcp_available_congestion_control).
/// Serialized: a congestion control's name must be unique while registered, and every test of
/// this process uses the same one.
@Suite(.enabled(if: KernelGate.enabledWithKernelBTF, "needs bpf() as root and kernel BTF"), .kernel, .serialized)
struct StructOpsTests {
    /// Unique per test process; the kernel keeps at most 15 characters (TCP_CA_NAME_MAX 16).
    static let caName = String("bpfpipe_\(getpid())".prefix(15))

    func object(_ flags: [String] = [], registering: Bool = true) throws -> BPFObject {
        let path = try Fixtures.object("struct_ops", flags: ["-D__TARGET_ARCH_x86", "-I\(try COREFixture.header.get())",
                                                              "-DCA_NAME=\"\(Self.caName)\""] + flags)
        var options = LoadOptions()
        options.pinMapsByNameDirectory = nil
        options.registerStructOps = registering
        return try BPFObject.open(path: path, options: options)
    }

    func availableCongestionControls() throws -> [String] {
        try String(contentsOfFile: "/proc/sys/net/ipv4/tcp_available_congestion_control", encoding: .utf8)
            .split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
    }

    func kernelMemberIndex(_ name: String, of st: String) throws -> UInt32? {
        let table = try KernelBTF.vmlinux()
        let id = try #require(table.firstType(named: st, kind: .struct))
        let record = try #require(table[id])
        return (0..<record.vlen).first { table.nameString(record.member($0).nameOffset) == name }.map(UInt32.init)
    }

    @Test func aStructOpsVariableIsAOneEntryMapWhoseMembersNameTheirPrograms() throws {
        let def = try #require(try object().spec.maps.first { $0.name == "tiny" })
        #expect(def.type == 26 /* BPF_MAP_TYPE_STRUCT_OPS */ && def.keySize == 4 && def.maxEntries == 1 && def.flags == 0)
        #expect(def.structOps?.typeName == "tcp_congestion_ops")
        #expect(Set(def.structOps?.programs.values.map { $0 } ?? []) == ["tiny_ssthresh", "tiny_undo_cwnd", "tiny_cong_avoid"])
        let link = try #require(try object(["-DLINK"]).spec.maps.first { $0.name == "tiny" })
        #expect(link.flags == StructOps.linkFlag)
    }

    @Test func aRegisteredCongestionControlIsAvailableUntilUnload() throws {
        let obj = try object()
        try obj.load()
        #expect(try availableCongestionControls().contains(Self.caName))
        // Programs load against the kernel struct, each as the member it fills.
        let kernelType = try #require(try KernelBTF.vmlinux().firstType(named: "tcp_congestion_ops", kind: .struct))
        let ssthresh = try #require(obj.program(named: "tiny_ssthresh"))
        #expect(ssthresh.structOpsAttachBTFID == kernelType)
        #expect(ssthresh.kind?.expectedAttachType == (try kernelMemberIndex("ssthresh", of: "tcp_congestion_ops")))
        // The map's value is the kernel's wrapper struct, not the object's struct.
        let wrapper = try #require(try KernelBTF.vmlinux().firstType(named: "bpf_struct_ops_tcp_congestion_ops", kind: .struct))
        let info = try BPFCommand.mapInfo(try #require(obj.map(named: "tiny")).fd).get()
        #expect(info.btf_vmlinux_value_type_id == wrapper)
        #expect(Int(info.value_size) == (try KernelBTF.vmlinux().size(of: wrapper)))
        obj.unload()
        #expect(try !availableCongestionControls().contains(Self.caName))
    }

    @Test func aLinkMapLoadsAndStoresItsValueWithoutRegistering() throws {
        let obj = try object(["-DLINK"])
        try obj.load()
        defer { obj.unload() }
        #expect(try !availableCongestionControls().contains(Self.caName))
        let map = try #require(obj.map(named: "tiny"))
        #expect(try BPFCommand.mapInfo(map.fd).get().map_flags == StructOps.linkFlag)
        // The kernel's value starts with refcnt and state; BPF_STRUCT_OPS_STATE_READY (3) is "stored, awaiting a link".
        let value = try #require(try map.lookup(key: [0, 0, 0, 0]))
        #expect(value[4..<8] == [3, 0, 0, 0])
        // Pinned like any map.
        let dir = try PinDirectory()
        _ = try obj.pin(to: dir.path)
        #expect(dir.contents().contains("maps/tiny"))
    }

    @Test func incompleteOpsFailToRegisterWithAClearError() throws {
        let obj = try object(["-DINCOMPLETE"])
        // A struct_ops program no variable uses is not loaded (it would have no attach target).
        #expect(obj.program(named: "tiny_cong_avoid")?.autoload == false)
        let e = #expect(throws: LoaderError.self) { try obj.load() }
        #expect(e?.step == .load)
        #expect(e?.errno == .invalidArgument)
        #expect(e?.hint?.contains("cong_avoid") == true)
        #expect(try !availableCongestionControls().contains(Self.caName))
    }

    @Test func withoutRegistrationIncompleteOpsLoad() throws {
        let obj = try object(["-DINCOMPLETE"], registering: false)
        try obj.load()
        defer { obj.unload() }
        #expect(obj.program(named: "tiny_ssthresh")?.isLoaded == true)
        #expect(try !availableCongestionControls().contains(Self.caName))
    }
}
