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
        // test_subprogs calls a static and a global subprogram, and the static one reads a
        // global (a map value reference): three relocations the preprocessor must see applied.
        let obj = try BPFObject.open(path: try Fixtures.object("features"))
        let p = obj.program(named: "test_subprogs")!
        let seen = Recorder()
        try p.setPreprocessor(instances: 3) { ctx, insns in
            seen.add(ctx.instance, insns)
            return insns
        }
        try obj.load()
        #expect(seen.calls.map(\.0) == [0, 1, 2])
        #expect(seen.calls.allSatisfy { $0.1 == p.linked!.instructions })
        let code = try #require(seen.calls.first?.1)
        // Calls point at the subprograms the linker appended, not at their places in .text.
        let starts = p.linked!.functionStarts
        #expect(starts.count == 3)
        let callTargets = code.enumerated().filter { $0.element.isPseudoCall }.map { $0.offset + Int($0.element.immediate) + 1 }
        #expect(callTargets.count == 2 && Set(callTargets) == Set(starts.dropFirst()), "calls go to \(callTargets), functions start at \(starts)")
        // The global is read through the .data map's fd, as BPF_PSEUDO_MAP_VALUE.
        let data = try #require(obj.map(named: "features.data"))
        let valueLoads = code.filter { $0.isLoadImm64 && $0.src == Instruction.pseudoMapValue }
        #expect(!valueLoads.isEmpty && valueLoads.allSatisfy { $0.immediate == data.fd.rawValue })
        // The code the preprocessor passed through runs: 2 + 3 (+ data_var - 7 = 0) + 4 * 5.
        for n in 0..<3 { #expect(try p.run(instance: n) == 25) }
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
        let obj = try BPFObject.open(path: try Fixtures.object("prologue"))
        let p = obj.program(named: "arg_sub")!
        let original = try relocatedWithoutMaps("prologue", "arg_sub")
        // The prologue stores 100 + n in skb->cb[0], which the subprogram adds to the length.
        try p.setPreprocessor(instances: 3) { ctx, insns in
            [Instruction(opcode: 0xb4, dst: 2, immediate: Int32(100 + ctx.instance)),   // w2 = 100 + n
             Instruction(opcode: 0x63, dst: 1, src: 2, offset: 48)]                     // *(u32 *)(r1 + 48) = w2
                + insns
        }
        try obj.load()
        #expect(original.funcInfo.count == 2 && !original.lineInfo.isEmpty)
        for n in 0..<3 {
            let code = p.instances[n].code!
            #expect(code.funcInfo.map(\.instruction) == [0, original.functionStarts[1] + 2])
            #expect(code.lineInfo.first?.instruction == 0)
            #expect(code.lineInfo.count == original.lineInfo.count + 1)
            // The socket filter sees the packet after its 14-byte Ethernet header.
            #expect(try p.run(instance: n) == UInt32(100 + n + testPacket.count - 14))
            // The kernel took the program with its BTF, func_info and line_info.
            let info = try BPFCommand.programInfo(try p.fd(instance: n)).get()
            #expect(info.btf_id != 0)
            #expect(info.nr_func_info == 2)
            #expect(info.nr_line_info == UInt32(code.lineInfo.count))
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

    /// The code of `program` in fixture `object` as the linker lays it out (calls, function starts
    /// and debug info do not depend on map fds), from a separate copy of the object.
    func relocatedWithoutMaps(_ object: String, _ program: String) throws -> LinkedProgram {
        let reference = try BPFObject.open(path: try Fixtures.object(object))
        try reference.relocate(createMaps: false)
        return try #require(reference.program(named: program)?.linked)
    }

    /// Each kind of bad target has its own case and its own message.
    @Test(arguments: [
        ("jump out of range", [Instruction(opcode: 0x05, offset: 5), .exit],
         "instruction 0: jumps to 6, outside the program's 2 instructions"),
        ("ld_imm64 without its second half", Array(Instruction.loadImm64(dst: 0, 1).prefix(1)) + [.exit],
         "instruction 0: 64-bit load is not followed by its second half"),
        ("jump onto the second half of an ld_imm64", [Instruction(opcode: 0x05, offset: 1)] + Instruction.loadImm64(dst: 0, 1) + [.exit],
         "instruction 0: jumps to 2, the second half of the 64-bit load at instruction 1"),
        ("BPF_PSEUDO_FUNC out of range", Instruction.loadImm64(dst: 2, 9, src: Instruction.pseudoFunc) + [.mov64(dst: 0, immediate: 0), .exit],
         "instruction 0: refers to a function at instruction 10, outside the program's 4 instructions"),
        ("gotol out of range", [Instruction(opcode: 0x06, immediate: -3), .mov64(dst: 0, immediate: 0), .exit],
         "instruction 0: gotol jumps to -2, outside the program's 3 instructions"),
        ("call out of range", [Instruction(opcode: Instruction.callOpcode, src: Instruction.pseudoCall, immediate: 7), .exit],
         "instruction 0: calls instruction 8, outside the program's 2 instructions"),
    ] as [(String, [Instruction], String)])
    func invalidInstructionsFromAPreprocessorAreRefusedBeforeTheKernel(kind: String, code: [Instruction], message: String) throws {
        let obj = try open()
        try obj.program(named: "which")!.setPreprocessor(instances: 1) { _, _ in code }
        let e = #expect(throws: LoaderError.self, "\(kind)") { try obj.load() }
        #expect(e?.step == .preprocess)
        #expect(e?.location == "program 'which' instance 0")
        #expect(e?.message == "preprocessor returned invalid code: \(message)", "\(kind)")
    }

    /// The call check must accept what is right: a callback's address (BPF_PSEUDO_FUNC) and a
    /// call, both shifted by a prologue, still enter functions at their starts.
    @Test func aPrologueOnAProgramWithACallbackStillLoadsAndRuns() throws {
        let obj = try BPFObject.open(path: try Fixtures.object("features"))
        let p = obj.program(named: "test_callback")!
        try p.setPreprocessor(instances: 2) { ctx, insns in [Instruction.mov64(dst: 6, immediate: Int32(ctx.instance))] + insns }
        try obj.load()
        // bpf_loop calls sum_cb for i = 0..9: 45.
        for n in 0..<2 { #expect(try p.run(instance: n) == 45) }
    }

    @Test func aCallIntoTheMiddleOfAFunctionIsRefusedBeforeTheKernel() throws {
        let obj = try open()
        let p = obj.program(named: "which_sub")!
        let original = try relocatedWithoutMaps("instances", "which_sub")
        let call = try #require(original.instructions.firstIndex { $0.isPseudoCall })
        let start = original.functionStarts[1]
        // Same length, so func_info carries over unchanged; the call now lands one past add_len's start.
        try p.setPreprocessor(instances: 1) { _, insns in
            var out = insns
            out[call].immediate += 1
            return out
        }
        let e = #expect(throws: LoaderError.self) { try obj.load() }
        #expect(e?.step == .preprocess)
        #expect(e?.location == "program 'which_sub' instance 0")
        #expect(e?.message == "preprocessor returned invalid code: instruction \(call): calls instruction \(start + 1), which is not the start of a function (functions start at 0, \(start))")
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
