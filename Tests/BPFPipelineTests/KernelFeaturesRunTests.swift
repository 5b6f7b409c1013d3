import Foundation
import Testing
@testable import BPFLoader
@testable import BPFPipeline
import BPFTestSupport

/// CO-RE, externs and attach targets through `bpfpipe run`: a pipeline that builds objects
/// against this kernel's vmlinux.h, loads and pins them, and whose programs answer as the kernel
/// says they should.
@Suite(.enabled(if: KernelGate.enabledWithKernelBTF, "needs bpf() as root and kernel BTF"), .kernel)
struct KernelFeaturesRunTests {
    /// vmlinux.h for this kernel, generated once into a temporary folder.
    static let vmlinuxDirectory: Result<String, FixtureFailure> = {
        let dir = NSTemporaryDirectory() + "bpfpipe-vmlinux-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        guard let r = try? runProcess("/usr/sbin/bpftool", ["btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c"]),
              r.status == 0, FileManager.default.createFile(atPath: dir + "/vmlinux.h", contents: Data(r.stdout.utf8)) else {
            return .failure(FixtureFailure("bpftool btf dump failed"))
        }
        return .success(dir)
    }()

    @Test func coreExternsAndAttachTargetsWorkThroughRun() throws {
        let h = try PipelineHarness()
        let include = try Self.vmlinuxDirectory.get()
        let spec = try h.decode(text: """
        version: 1
        name: kernel-features
        objects:
          - name: externs
            build:
              source: ../Tests/BPFLoaderTests/Fixtures/externs.bpf.c
              include: [\(include)]
          - name: attach
            build:
              source: ../Tests/BPFLoaderTests/Fixtures/attach.bpf.c
              include: [\(include)]
          - name: core
            build:
              source: ../Tests/BPFLoaderTests/Fixtures/core.bpf.c
              include: [\(include)]
        """)
        let result = try h.runner(spec).execute(.run)
        let base = "\(h.pins.path)/kernel-features"

        // .kconfig: the syscall program returns LINUX_KERNEL_VERSION + CONFIG_HZ.
        let hz = try #require(KernelConfig.values["CONFIG_HZ"].flatMap { UInt32($0) })
        let kconfig = try BPFFS.openPinned("\(base)/externs/progs/kconfig_values")
        #expect(try BPFCommand.testRun(kconfig, data: [], repeat: 0).get().returnValue == KernelConfig.linuxKernelVersion + hz)
        // kfuncs and tp_btf/iter attach targets: the kernel accepted them, and they are pinned.
        for pin in ["externs/progs/kfunc_calls", "attach/progs/on_switch", "attach/progs/dump_task"] {
            #expect(FileManager.default.fileExists(atPath: "\(base)/\(pin)"), "\(pin) is not pinned")
        }
        // CO-RE: the relocated code the plan and the run share has no unresolved relocation left
        // that the verifier reached (it loaded), and the programs were loaded from it.
        let core = try #require(result.objects.first { $0.name == "core" })
        let coreLoaded = core.programs.filter(\.autoload).allSatisfy(\.isLoaded)
        #expect(coreLoaded)
        #expect(!core.programs.filter(\.autoload).isEmpty)
    }
}
