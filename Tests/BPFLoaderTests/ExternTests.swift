import Foundation
import Testing
@testable import BPFLoader

/// Externs resolved against the running kernel: `.kconfig` values from /proc/config.gz, kfunc
/// calls from kernel BTF, weak externs the kernel lacks.
@Suite(.enabled(if: KernelGate.enabledWithKernelBTF, "needs bpf() as root and kernel BTF"), .kernel)
struct ExternTests {
    func object(_ flags: [String] = []) throws -> BPFObject {
        try COREFixture.open("externs", flags: flags)
    }

    @Test func kconfigExternsReadTheKernelsConfiguration() throws {
        let obj = try object()
        try obj.load()
        let hz = try #require(KernelConfig.values["CONFIG_HZ"].flatMap { UInt32($0) })
        // Syscall programs refuse a repeat count.
        let result = try BPFCommand.testRun(try obj.program(named: "kconfig_values")!.fd(), data: [], repeat: 0).get()
        #expect(result.returnValue == KernelConfig.linuxKernelVersion + hz)
        // The map holds them, frozen, as libbpf's .kconfig map does.
        let map = try #require(obj.maps.first { $0.definition.origin == .globalData(section: ".kconfig") })
        #expect(map.name == "externs.kconfig")
        #expect(map.definition.freezeAfterInit)
    }

    @Test func kfuncCallsCarryTheKernelFunctionsBTFID() throws {
        let obj = try object()
        try obj.load()
        let code = try #require(obj.program(named: "kfunc_calls")!.linked).instructions
        let kfuncCalls = code.filter { $0.isCall && $0.src == Instruction.pseudoKfuncCall }.map { UInt32(bitPattern: $0.immediate) }
        let acquire = try #require(try KernelBTF.vmlinux().firstType(named: "bpf_task_acquire", kind: .func))
        let release = try #require(try KernelBTF.vmlinux().firstType(named: "bpf_task_release", kind: .func))
        #expect(kfuncCalls == [acquire, release])
        // The absent weak kfunc became the poison call, and the program still loaded.
        #expect(code.contains { $0.isCall && $0.immediate == COREPatch.poisonHelperID })
        #expect(obj.program(named: "kfunc_calls")!.isLoaded)
    }

    @Test func aRequiredKconfigTheKernelLacksIsAClearError() throws {
        let obj = try object(["-DREQUIRE_MISSING"])
        let e = #expect(throws: LoaderError.self) { try obj.load() }
        #expect(e?.step == .relocate)
        #expect(e?.message.contains("CONFIG_REALLY_NOT_THERE") == true)
        #expect(e?.hint?.contains("__weak") == true)
    }
}
