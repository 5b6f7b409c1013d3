import Testing
@testable import BPFLoader

@Suite struct KernelGateTests {
    @Test func kernelTestsCanRunWhereCIRequiresThem() {
        // Where CI demands kernel tests, a failed probe must fail the run rather than skip tests.
        if KernelGate.required {
            #expect(KernelGate.probe, "BPFPIPE_REQUIRE_KERNEL=1 but creating a BPF map failed: kernel tests would not prove anything")
        }
    }
}
