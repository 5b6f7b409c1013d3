import Testing
@testable import BPFLoader

let marker: Int32 = 0x0badcafe

/// Replaces the marker immediate with the instance index: the test-run result then names the instance.
let patchMarker: Preprocessor = { ctx, insns in
    insns.map { var i = $0; if i.immediate == marker { i.immediate = Int32(ctx.instance) }; return i }
}

/// The seed's rules (libbpf's bpf_program__set_prep / bpf_program__nth_fd), one test each.
@Suite(.enabled(if: KernelGate.enabled, "needs bpf() as root"), .kernel)
struct PreprocessorTests {
    func open() throws -> BPFObject {
        try BPFObject.open(path: try Fixtures.object("instances"))
    }

    @Test func instanceCountMustBePositive() throws {
        let p = try open().program(named: "which")!
        for bad in [0, -1] {
            let e = #expect(throws: LoaderError.self) { try p.setPreprocessor(instances: bad, patchMarker) }
            #expect(e?.errno == .invalidArgument)
        }
    }

    @Test func preprocessorCannotBeSetAfterLoad() throws {
        let obj = try open()
        try obj.load()
        let e = #expect(throws: LoaderError.self) { try obj.program(named: "which")!.setPreprocessor(instances: 2, patchMarker) }
        #expect(e?.errno == .invalidArgument)
        #expect(e?.message.contains("after") == true)
    }

    @Test func sixtyFourInstancesEachReturnTheirIndex() throws {
        let obj = try open()
        let p = obj.program(named: "which")!
        try p.setPreprocessor(instances: 64, patchMarker)
        try obj.load()
        #expect(p.instances.count == 64)
        for n in 0..<64 { #expect(try p.run(instance: n) == UInt32(n)) }
        // Instances are distinguishable in the kernel by name.
        let names = try (0..<64).map { n in
            var info = try BPFCommand.programInfo(try p.fd(instance: n)).get()
            return withUnsafeBytes(of: &info.name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        #expect(Set(names).count == 64)
        #expect(names[63] == "which_63")
    }

    @Test func preprocessorSeesRelocatedInstructionsOncePerInstance() throws {
        let obj = try open()
        let p = obj.program(named: "which")!
        let seen = Recorder()
        try p.setPreprocessor(instances: 3) { ctx, insns in
            seen.add(ctx.instance, insns)
            return insns
        }
        try obj.load()
        #expect(seen.calls.map(\.0) == [0, 1, 2])
        #expect(seen.calls.allSatisfy { $0.1 == p.linked!.instructions })
    }

    @Test func skippedInstanceHasNoFdAndIsNotFound() throws {
        let obj = try open()
        let p = obj.program(named: "which")!
        try p.setPreprocessor(instances: 4) { ctx, insns in ctx.instance % 2 == 1 ? nil : try patchMarker(ctx, insns) }
        try obj.load()
        #expect(try p.run(instance: 2) == 2)
        let e = #expect(throws: LoaderError.self) { try p.fd(instance: 1) }
        #expect(e?.errno == .noSuchFile)
        // An empty result skips too, as the seed's new_insn_cnt == 0 did.
        let obj2 = try open()
        try obj2.program(named: "which")!.setPreprocessor(instances: 1) { _, _ in [] }
        try obj2.load()
        #expect((#expect(throws: LoaderError.self) { try obj2.program(named: "which")!.fd() })?.errno == .noSuchFile)
    }

    @Test func outOfRangeIndexIsInvalidArgument() throws {
        let obj = try open()
        let p = obj.program(named: "which")!
        try p.setPreprocessor(instances: 2, patchMarker)
        try obj.load()
        for n in [-1, 2, 100] {
            #expect((#expect(throws: LoaderError.self) { try p.fd(instance: n) })?.errno == .invalidArgument)
        }
    }

    @Test func failingPreprocessorStopsTheLoadNamingTheInstanceAndClosesEverything() throws {
        struct Boom: Error {}
        let obj = try open()
        try obj.program(named: "which_sub")!.setPreprocessor(instances: 2, patchMarker)
        try obj.program(named: "which")!.setPreprocessor(instances: 5) { ctx, insns in
            if ctx.instance == 3 { throw Boom() }
            return insns
        }
        let e = #expect(throws: LoaderError.self) { try obj.load() }
        #expect(e?.step == .preprocess)
        #expect(e?.location == "program 'which' instance 3")
        #expect(e?.message.contains("preprocessing instance 3 failed") == true)
        #expect(obj.programs.allSatisfy { !$0.isLoaded })
        #expect(obj.maps.isEmpty && obj.btfFD == nil)
    }

    @Test func withoutPreprocessorTheProgramHasOneInstanceWhoseFdIsTheProgramFd() throws {
        let obj = try open()
        try obj.load()
        let p = obj.program(named: "which")!
        #expect(p.instances.count == 1)
        #expect(try p.fd() === (try p.fd(instance: 0)))
        #expect(try p.run() == UInt32(marker))
    }

    @Test func prologueKeepsCallsFuncInfoAndLineInfoRight() throws {
        let obj = try open()
        let p = obj.program(named: "which_sub")!
        // A prologue that does real work before the body: r6 = n; (the body ignores r6) plus a jump.
        try p.setPreprocessor(instances: 3) { ctx, insns in
            let prologue = [Instruction.mov64(dst: 6, immediate: Int32(ctx.instance)),
                            Instruction(opcode: 0x05, offset: 0)] // ja +0
            return prologue + (try patchMarker(ctx, insns) ?? [])
        }
        try obj.load()
        for n in 0..<3 {
            let code = p.instances[n].code!
            #expect(code.funcInfo.map(\.instruction) == [0, code.functionStarts[1]])
            #expect(code.lineInfo.first?.instruction == 0)
            // The socket filter sees the packet after its 14-byte Ethernet header.
            #expect(try p.run(instance: n) == UInt32(n + testPacket.count - 14))
        }
    }

    @Test func unfollowableRewriteOfAProgramWithSubprogramsIsRefused() throws {
        let obj = try open()
        try obj.program(named: "which_sub")!.setPreprocessor(instances: 1) { _, insns in
            var out = insns
            out.insert(Instruction.mov64(dst: 6, immediate: 1), at: 1)
            return out
        }
        let e = #expect(throws: LoaderError.self) { try obj.load() }
        #expect(e?.step == .preprocess)
        #expect(e?.message.contains("subprogram") == true)
    }

    @Test func invalidInstructionsFromAPreprocessorAreRefusedBeforeTheKernel() throws {
        let cases: [[Instruction]] = [
            [Instruction(opcode: 0x05, offset: 5), .exit],            // jump out of range
            Instruction.loadImm64(dst: 0, 1).prefix(1) + [.exit],     // ld_imm64 without its second half
        ]
        for code in cases {
            let obj = try open()
            try obj.program(named: "which")!.setPreprocessor(instances: 1) { _, _ in code }
            let e = #expect(throws: LoaderError.self) { try obj.load() }
            #expect(e?.step == .preprocess)
            #expect(e?.message.contains("instruction") == true)
        }
    }
}

final class Recorder: @unchecked Sendable {
    private(set) var calls: [(Int, [Instruction])] = []
    func add(_ n: Int, _ insns: [Instruction]) { calls.append((n, insns)) }
}

/// Issue 9, "the seed's rules, exactly": when a preprocessor may be set, what `fd(instance:)`
/// answers before load, and what preprocessing a loaded object again does.
extension PreprocessorTests {
    @Test func aSecondPreprocessorIsInvalidArgumentAndTheFirstStays() throws {
        let obj = try open()
        let p = obj.program(named: "which")!
        try p.setPreprocessor(instances: 2, patchMarker)
        let e = #expect(throws: LoaderError.self) {
            try p.setPreprocessor(instances: 3) { _, insns in insns }
        }
        #expect(e?.errno == .invalidArgument)
        #expect(e?.message == "a preprocessor is already set for this program; set it once, with every instance's work in it")
        try obj.load()
        #expect(p.instances.count == 2)
        #expect(try p.run(instance: 1) == 1, "the first preprocessor produced the instances")
    }

    @Test func aPreprocessorSetAfterPreprocessingIsInvalidArgumentAndChangesNothing() throws {
        let obj = try open()
        let p = obj.program(named: "which")!
        try obj.relocate()
        try obj.preprocess()
        let e = #expect(throws: LoaderError.self) { try p.setPreprocessor(instances: 3, patchMarker) }
        #expect(e?.errno == .invalidArgument)
        #expect(e?.message == "cannot set a preprocessor after preprocessing has run; its instances are already made")
        #expect(p.instanceCount == 1)
        try obj.loadPrograms()
        #expect(p.instances.count == 1)
        #expect(try p.run() == UInt32(marker), "the relocated code, not a late preprocessor's")
        // Unloading gives the instances back, as the seed's unload freed them.
        obj.unload()
        try p.setPreprocessor(instances: 2, patchMarker)
        #expect(p.instanceCount == 2)
    }

    @Test func anInRangeInstanceBeforeLoadIsNotFoundAndOutOfRangeIsInvalid() throws {
        let obj = try open()
        let p = obj.program(named: "which")!
        try p.setPreprocessor(instances: 2, patchMarker)
        for n in [0, 1] {
            let e = #expect(throws: LoaderError.self) { try p.fd(instance: n) }
            #expect(e?.errno == .noSuchFile)
            #expect(e?.message == "program is not loaded; instance \(n) has no fd yet")
        }
        for n in [-1, 2] {
            #expect((#expect(throws: LoaderError.self) { try p.fd(instance: n) })?.errno == .invalidArgument)
        }
        let plain = try open().program(named: "which")!
        #expect((#expect(throws: LoaderError.self) { try plain.fd() })?.errno == .noSuchFile)
    }

    @Test func preprocessingALoadedObjectAgainIsRefusedAndKeepsItsInstances() throws {
        let obj = try open()
        let p = obj.program(named: "which")!
        try p.setPreprocessor(instances: 2, patchMarker)
        try obj.load()
        let e = #expect(throws: LoaderError.self) { try obj.preprocess() }
        #expect(e?.step == .preprocess)
        #expect(e?.errno == .invalidArgument)
        #expect(e?.message == "program is already loaded; preprocessing again would drop its loaded instances")
        #expect(p.isLoaded)
        #expect(p.instances.allSatisfy { $0.fd != nil })
        #expect(try p.run(instance: 1) == 1)
    }

    @Test func aPreprocessorsOwnErrorKeepsItsErrno() throws {
        let cases: [(any Error, Errno?)] = [
            (LoaderError(.preprocess, "map gone", errno: .noSuchFile), .noSuchFile),
            (Errno.permissionDenied, .permissionDenied),
            (CancellationError(), nil),
        ]
        for (thrown, errno) in cases {
            let obj = try open()
            let box = ErrorBox(thrown)
            try obj.program(named: "which")!.setPreprocessor(instances: 2) { ctx, insns in
                if ctx.instance == 1 { throw box.error }
                return insns
            }
            let e = #expect(throws: LoaderError.self) { try obj.load() }
            #expect(e?.location == "program 'which' instance 1")
            #expect(e?.errno == errno)
        }
    }
}

final class ErrorBox: @unchecked Sendable {
    let error: any Error
    init(_ e: any Error) { error = e }
}
