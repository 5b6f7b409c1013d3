import Testing
@testable import BPFLoader

@Suite struct KernelGateTests {
    @Test func kernelTestsCanRunWhereCIRequiresThem() {
        // Where CI demands kernel tests, a failed probe must fail the run rather than skip tests.
        if KernelGate.required {
            #expect(KernelGate.probe, "BPFPIPE_REQUIRE_KERNEL=1 but creating a BPF map failed: kernel tests would not prove anything")
            #expect(KernelGate.hasKernelBTF, "BPFPIPE_REQUIRE_KERNEL=1 but \(KernelGate.kernelBTFPath) is missing: the BTF suites will fail")
        }
    }

    /// The six suites that need kernel BTF (ExternTests, AttachTargetTests, StructOpsTests, both
    /// CORE suites, KernelFeaturesRunTests) use these gates: required means run, and so fail,
    /// even without BTF or bpf().
    @Test func requiredKernelRunsTheBTFSuitesEvenWithoutBTF() {
        for needsBPF in [true, false] {
            #expect(KernelGate.enabled(probe: false, kernelBTF: false, required: true, needsBPF: needsBPF))
            #expect(KernelGate.enabled(probe: true, kernelBTF: false, required: true, needsBPF: needsBPF))
            #expect(!KernelGate.enabled(probe: true, kernelBTF: false, required: false, needsBPF: needsBPF))
            #expect(KernelGate.enabled(probe: true, kernelBTF: true, required: false, needsBPF: needsBPF))
        }
        #expect(!KernelGate.enabled(probe: false, kernelBTF: true, required: false, needsBPF: true))
        #expect(KernelGate.enabled(probe: false, kernelBTF: true, required: false, needsBPF: false))
        #expect(KernelGate.enabledWithKernelBTF == KernelGate.enabled(probe: KernelGate.probe, kernelBTF: KernelGate.hasKernelBTF,
                                                                      required: KernelGate.required, needsBPF: true))
    }

    /// A descriptor count that cannot be taken fails the test instead of comparing -1 with -1.
    @Test func descriptorCountThatCannotBeTakenThrows() throws {
        #expect(throws: FixtureFailure.self) { try openFileDescriptorCount(in: "/nonexistent/proc/self/fd") }
        #expect(try openFileDescriptorCount() >= 0)
    }
}
