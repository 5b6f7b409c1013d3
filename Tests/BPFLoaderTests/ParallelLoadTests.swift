import Testing
@testable import BPFLoader

/// Loading on several threads (`LoadOptions.jobs`, `--jobs`): every instance is its own, and the
/// observer hears of them in program and instance order whatever order the kernel finishes in.
@Suite(.enabled(if: KernelGate.enabled, "needs bpf() as root"), .kernel)
struct ParallelLoadTests {
    @Test func sixteenInstancesLoadWithFourJobsAndEachReturnsItsIndex() throws {
        let obj = try BPFObject.open(path: try Fixtures.object("instances"))
        obj.options.jobs = 4
        let which = obj.program(named: "which")!
        let sub = obj.program(named: "which_sub")!
        try which.setPreprocessor(instances: 16, patchMarker)
        try sub.setPreprocessor(instances: 3, patchMarker)
        try obj.relocate()
        try obj.preprocess()
        var heard: [String] = []
        try obj.loadPrograms { p, n, fd, _ in
            // The fd handed over is the instance's own, already kept by its program.
            #expect(p.instances[n].fd === fd)
            heard.append("\(p.name)[\(n)]")
        }
        let expected = obj.programs.filter(\.autoload).flatMap { p in p.instances.map { "\(p.name)[\($0.index)]" } }
        #expect(heard == expected)
        #expect(heard.count == 19)
        for n in 0..<16 { #expect(try which.run(instance: n) == UInt32(n)) }
        // which_sub returns the marker plus the packet's length.
        let lengths = try (0..<3).map { try sub.run(instance: $0) }
        #expect(lengths.map { $0 - lengths[0] } == [0, 1, 2])
        #expect(Set((0..<16).map { which.kernelInfo(instance: $0)!.id }).count == 16)
    }

    @Test func oneJobAndFourJobsLoadTheSamePrograms() throws {
        var tags: [[String]] = []
        for jobs in [1, 4] {
            let obj = try BPFObject.open(path: try Fixtures.object("instances"))
            let p = obj.program(named: "which")!
            try p.setPreprocessor(instances: 8, patchMarker)
            obj.options.jobs = jobs
            try obj.load()
            tags.append((0..<8).map { p.kernelInfo(instance: $0)!.tag })
        }
        #expect(tags[0] == tags[1])
        #expect(Set(tags[0]).count == 8)
    }
}
