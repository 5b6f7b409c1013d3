import Testing
@testable import BPFLoader

/// Counts this process's open fds around load and unload; runs alone (see `DescriptorLock`).
@Suite(.enabled(if: KernelGate.enabled, "needs bpf() as root"), .kernel(countingDescriptors: true), .serialized)
struct DescriptorLeakTests {
    @Test func unloadAndDeinitCloseEveryDescriptor() throws {
        let path = try Fixtures.object("features")
        let before = try openFileDescriptorCount()
        do {
            let obj = try BPFObject.open(path: path)
            try obj.load()
            #expect(try openFileDescriptorCount() > before)
            obj.unload()
            #expect(try openFileDescriptorCount() == before)
        }
        do {
            let obj = try BPFObject.open(path: path)
            try obj.load()
        }
        #expect(try openFileDescriptorCount() == before)
    }

    @Test func unloadClosesEveryInstanceFd() throws {
        let path = try Fixtures.object("instances")
        let before = try openFileDescriptorCount()
        let obj = try BPFObject.open(path: path)
        let p = obj.program(named: "which")!
        try p.setPreprocessor(instances: 16, patchMarker)
        try obj.load()
        #expect(try openFileDescriptorCount() >= before + 16)
        obj.unload()
        #expect(try openFileDescriptorCount() == before)
        #expect((#expect(throws: LoaderError.self) { try p.fd(instance: 0) })?.errno == .invalidArgument)
    }

    @Test func failedLoadsLeaveNoDescriptorOpen() throws {
        struct Boom: Error {}
        let path = try Fixtures.object("instances")
        let before = try openFileDescriptorCount()
        do {
            let obj = try BPFObject.open(path: path)
            try obj.program(named: "which")!.setPreprocessor(instances: 5) { ctx, insns in
                if ctx.instance == 3 { throw Boom() }
                return insns
            }
            #expect(throws: LoaderError.self) { try obj.load() }
            #expect(try openFileDescriptorCount() == before)
        }
        do {
            // Rejected by the verifier after maps and BTF were created.
            let obj = try BPFObject.open(path: try Fixtures.object("features"))
            try obj.program(named: "test_globals")!.setPreprocessor(instances: 1) { _, _ in [Instruction.exit] }
            #expect(throws: LoaderError.self) { try obj.load() }
            #expect(try openFileDescriptorCount() == before)
        }
        #expect(try openFileDescriptorCount() == before)
    }
}
