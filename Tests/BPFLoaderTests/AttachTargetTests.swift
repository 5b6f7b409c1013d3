import Foundation
import Testing
@testable import BPFLoader

/// tp_btf and iter programs get their attach_btf_id from kernel BTF; the kernel proves it by
/// accepting them (without one it refuses both) and reporting the id it was given.
@Suite(.enabled(if: KernelGate.enabledWithKernelBTF, "needs bpf() as root and kernel BTF"), .kernel)
struct AttachTargetTests {
    func object() throws -> BPFObject {
        try COREFixture.open("attach")
    }

    @Test func tpBTFAndIteratorProgramsLoadWithTheirKernelTargets() throws {
        let obj = try object()
        try obj.load()
        for (program, target) in [("on_switch", "btf_trace_sched_switch"), ("dump_task", "bpf_iter_task")] {
            let p = obj.program(named: program)!
            let info = try BPFCommand.programInfo(try p.fd()).get()
            let expected = try #require(try KernelBTF.vmlinux().firstType(named: target, kind: target.hasPrefix("btf_trace_") ? .typedef : .func))
            #expect(info.attach_btf_id == expected, "\(program) attached to id \(info.attach_btf_id), kernel BTF has \(target) at \(expected)")
        }
    }

    @Test func unknownTargetIsAClearLoadError() throws {
        let obj = try object()
        obj.program(named: "missing_target")!.autoload = true
        let e = #expect(throws: LoaderError.self) { try obj.load() }
        #expect(e?.step == .load)
        #expect(e?.message.contains("btf_trace_no_such_tracepoint_here") == true)
        #expect(e?.location?.contains("missing_target") == true)
    }
}
