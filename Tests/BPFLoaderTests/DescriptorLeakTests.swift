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

    /// The verifier refuses instance k while other threads load the instances around it: the
    /// error names instance k, the observer heard of exactly the instances before it (in order),
    /// and every fd — of instances loaded before and after k — is closed.
    @Test func aRefusedInstanceAmongParallelLoadsLeavesNoDescriptorOpen() throws {
        let path = try Fixtures.object("instances")
        let before = try openFileDescriptorCount()
        for k in [0, 5, 15] {
            let obj = try BPFObject.open(path: path)
            obj.options.jobs = 4
            try obj.program(named: "which")!.setPreprocessor(instances: 16) { ctx, insns in
                // `exit` without setting r0: "R0 !read_ok".
                ctx.instance == k ? [Instruction.exit] : try patchMarker(ctx, insns)
            }
            try obj.relocate()
            try obj.preprocess()
            var heard: [Int] = []
            let e = #expect(throws: LoaderError.self) {
                try obj.loadPrograms { p, n, _, _ in if p.name == "which" { heard.append(n) } }
            }
            #expect(e?.location?.hasPrefix("program 'which' instance \(k)") == true, "\(String(describing: e))")
            #expect(e?.step == .load)
            #expect(heard == Array(0..<k))
            #expect(!obj.program(named: "which")!.isLoaded)
            obj.unload()
            #expect(try openFileDescriptorCount() == before, "k = \(k)")
        }
        #expect(try openFileDescriptorCount() == before)
    }

    /// An observer (the runner's fault hook) that fails at instance 7 stops a four-job load the
    /// same way: its error comes out, and no fd stays open.
    @Test func anObserverFailureAmongParallelLoadsLeavesNoDescriptorOpen() throws {
        struct Injected: Error {}
        let path = try Fixtures.object("instances")
        let before = try openFileDescriptorCount()
        do {
            let obj = try BPFObject.open(path: path)
            try obj.program(named: "which")!.setPreprocessor(instances: 16, patchMarker)
            try obj.relocate()
            try obj.preprocess()
            var heard: [Int] = []
            #expect(throws: Injected.self) {
                try obj.loadPrograms(jobs: 4) { p, n, _, _ in
                    guard p.name == "which" else { return }
                    heard.append(n)
                    if n == 7 { throw Injected() }
                }
            }
            #expect(heard == Array(0...7))
            obj.removeNewByNamePins()
        }
        #expect(try openFileDescriptorCount() == before)
    }
}
