import Foundation
import Testing
@testable import BPFLoader

/// XDP, tcx and cgroup links, proven by packets through a veth pair in a namespace the test
/// creates, and by a socket created in a cgroup the test creates.
extension AttachTests {
    @Test(arguments: [XDPMode.auto, .native, .generic])
    func xdpCountsPacketsFromTheOtherNamespace(_ mode: XDPMode) throws {
        let lab = try NetworkLab()
        let obj = try object()
        let link = try obj.program(named: "count_xdp")!.attach(.xdp(interface: lab.outside, mode: mode))
        #expect(try link.info().type == LinkType.xdp)
        let before = try count(obj, .xdp1)
        #expect(try lab.sendFromInside(batches: 5) { try count(obj, .xdp1) >= before + 5 })
    }

    @Test(arguments: [TCDirection.ingress, .egress])
    func tcxCountsPackets(_ direction: TCDirection) throws {
        let lab = try NetworkLab()
        let obj = try object()
        let link = try obj.program(named: "count_tc")!.attach(.tcx(interface: lab.outside, direction: direction))
        #expect(try link.info().type == LinkType.tcx)
        let before = try count(obj, .tcx)
        // Ingress sees datagrams sent from inside, egress those this namespace sends in.
        #expect(try lab.sendFromInside(batches: 5, outward: direction == .egress) { try count(obj, .tcx) >= before + 5 })
    }

    @Test func xdpLinkUpdateSwapsTheProgram() throws {
        let lab = try NetworkLab()
        let obj = try object()
        let link = try obj.program(named: "count_xdp")!.attach(.xdp(interface: lab.outside, mode: .auto))
        #expect(try lab.sendFromInside(batches: 3) { try count(obj, .xdp1) >= 3 })
        let first = try count(obj, .xdp1)
        let second = obj.program(named: "count_xdp2")!
        try link.update(program: try second.fd())
        #expect(try link.info().programID == (try BPFCommand.programInfo(try second.fd()).get().id))
        #expect(try lab.sendFromInside(batches: 3) { try count(obj, .xdp2) >= 3 })
        #expect(try count(obj, .xdp1) == first)
    }

    @Test func tracepointLinksCannotSwapInPlace() throws {
        let obj = try object()
        let target = LinkTarget.tracepoint(category: "syscalls", name: "sys_enter_getpid")
        #expect(!target.supportsInPlaceUpdate)
        #expect(LinkTarget.xdp(interface: "x", mode: .auto).supportsInPlaceUpdate)
        let link = try obj.program(named: "on_getpid")!.attach(target)
        let e = #expect(throws: LoaderError.self) { try link.update(program: try obj.program(named: "on_getpid")!.fd()) }
        #expect(e?.step == .attach)
        #expect(e?.message == "cannot update the link's program")
    }

    @Test func cgroupSockCreateCountsASocketMadeInside() throws {
        let cgroup = try TestCgroup()
        let obj = try object()
        let link = try obj.program(named: "on_sock_create")!.attach(.cgroup(path: cgroup.path, attachType: nil))
        #expect(try link.info().type == LinkType.cgroup)
        #expect(try count(obj, .cgroupSock) == 0)
        // This process's sockets are outside the cgroup and do not count.
        let outside = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        close(outside)
        #expect(try count(obj, .cgroupSock) == 0)
        try cgroup.createSocketInside()
        #expect(try count(obj, .cgroupSock) == 1)
    }

    @Test func aProgramOfTheWrongTypeIsRefusedWithAHint() throws {
        let obj = try object()
        let e = #expect(throws: LoaderError.self) {
            try obj.program(named: "count_xdp")!.attach(.tracepoint(category: "syscalls", name: "sys_enter_getpid"))
        }
        #expect(e?.step == .attach)
        #expect(e?.location == "program 'count_xdp' instance 0")
        #expect(e?.message == "cannot attach to tracepoint syscalls/sys_enter_getpid")
        #expect(e?.errno == .invalidArgument)
        #expect(e?.hint == "the kernel refused a xdp program (section 'xdp') for tracepoint syscalls/sys_enter_getpid; check that the section matches the target")
    }

    /// The loopback device has no driver-mode XDP; the error says what to use instead.
    @Test func nativeXDPWhereTheDriverHasNoneIsAClearError() throws {
        let obj = try object()
        let e = #expect(throws: LoaderError.self) {
            try obj.program(named: "count_xdp")!.attach(.xdp(interface: "lo", mode: .native))
        }
        #expect(e?.message == "cannot attach to xdp on lo (native)")
        #expect(e?.errno == .notSupported)
        #expect(e?.hint == "the driver of lo has no native XDP; use mode generic (or auto)")
    }

    @Test func missingInterfaceIsAClearError() throws {
        let obj = try object()
        let e = #expect(throws: LoaderError.self) {
            try obj.program(named: "count_xdp")!.attach(.xdp(interface: "bpfnosuchif0", mode: .native))
        }
        #expect(e?.step == .attach)
        #expect(e?.file == obj.path)
        #expect(e?.location == "program 'count_xdp' instance 0")
        #expect(e?.message == "cannot attach to xdp on bpfnosuchif0 (native): no network interface 'bpfnosuchif0'")
        let tc = #expect(throws: LoaderError.self) {
            try obj.program(named: "count_tc")!.attach(.tcx(interface: "bpfnosuchif0", direction: .egress))
        }
        #expect(tc?.message == "cannot attach to tcx egress on bpfnosuchif0: no network interface 'bpfnosuchif0'")
    }

    @Test func missingCgroupIsAClearError() throws {
        let obj = try object()
        let e = #expect(throws: LoaderError.self) {
            try obj.program(named: "on_sock_create")!.attach(.cgroup(path: "/sys/fs/cgroup/unified/bpfpipe-no-such-cgroup", attachType: nil))
        }
        #expect(e?.step == .attach)
        #expect(e?.location == "program 'on_sock_create' instance 0")
        #expect(e?.message == "cannot attach to cgroup /sys/fs/cgroup/unified/bpfpipe-no-such-cgroup: no cgroup at /sys/fs/cgroup/unified/bpfpipe-no-such-cgroup")
        #expect(e?.errno == .noSuchFile)
    }
}
