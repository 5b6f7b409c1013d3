import Foundation
import Testing
@testable import BPFLoader

/// The running kernel's types as the old, independent `BTF` parser reads them, so that the
/// values CO-RE writes into programs are checked against something other than CO-RE's own code.
enum KernelTypes {
    static let path = KernelGate.kernelBTFPath
    /// Read once; a missing file is an error in each test that needs it, not a crash of the run.
    nonisolated(unsafe) static let parsed = Result { try BTF(bytes: FileBytes.read(path: path, step: .open), path: path) }
    static var btf: BTF { get throws { try parsed.get() } }

    static func id(_ name: String, _ kind: BTFKind = .struct) throws -> UInt32 {
        try #require(try btf.firstType(named: name, kind: kind), "no \(kind) \(name) in vmlinux")
    }

    /// Bit offset and member of `name` in the struct/union `id`, looking inside anonymous members.
    static func member(_ name: String, in id: UInt32) -> (bits: Int, member: BTFMember)? {
        guard let btf = try? btf else { return nil }
        for m in btf.types[Int(btf.skipModifiers(id))].members {
            if m.name == name { return (Int(m.offset), m) }
            if m.name.isEmpty, let inner = member(name, in: m.type) { return (Int(m.offset) + inner.bits, inner.member) }
        }
        return nil
    }

    /// Byte offset of `a.b.c` from the start of struct `root`.
    static func offset(_ path: [String], in root: String) throws -> Int {
        var id = try self.id(root), bits = 0
        for name in path {
            let found = try #require(member(name, in: id), "no \(name)")
            bits += found.bits
            id = found.member.type
        }
        return bits / 8
    }

    static func enumValue(_ name: String, in enumName: String) throws -> Int64 {
        try #require(try btf.types[Int(try id(enumName, .enum))].enumValues.first { $0.name == name }?.value)
    }
}

/// Compiles `core.bpf.c` against a vmlinux.h generated from the running kernel, once per run.
enum COREFixture {
    static let header: Result<String, FixtureError> = {
        let dir = Fixtures.outputDirectory
        let dump: ProcessResult
        do {
            dump = try runProcess("/usr/sbin/bpftool", ["btf", "dump", "file", KernelTypes.path, "format", "c"])
        } catch {
            return .failure(FixtureError(message: "bpftool: \(error)"))
        }
        guard dump.status == 0, FileManager.default.createFile(atPath: dir + "/vmlinux.h", contents: Data(dump.stdout.utf8)) else {
            return .failure(FixtureError(message: "bpftool btf dump failed (\(dump.status))"))
        }
        return .success(dir)
    }()

    /// Opens the fixture `name.bpf.c`, compiled against the kernel's vmlinux.h with extra clang
    /// `flags`, with no maps pinned by name.
    static func open(_ name: String = "core", flags: [String] = []) throws -> BPFObject {
        let path = try Fixtures.object(name, flags: ["-D__TARGET_ARCH_x86", "-I\(try header.get())"] + flags)
        var options = LoadOptions()
        options.pinMapsByNameDirectory = nil
        return try BPFObject.open(path: path, options: options)
    }
}

/// Relocation without the kernel's bpf(): only kernel BTF is read.
@Suite(.enabled(if: KernelGate.kernelBTFEnabled, "needs /sys/kernel/btf/vmlinux"))
struct COREPlanTests {
    @Test func vmlinuxParsesOnceAndIndexesNames() throws {
        let clock = ContinuousClock()
        let start = clock.now
        let table = try BTFTable(bytes: FileBytes.read(path: KernelTypes.path, step: .relocate), label: "vmlinux")
        let elapsed = clock.now - start
        print("vmlinux BTF: \(table.typeCount) types parsed and indexed in \(elapsed)")
        #expect(table.types(essentiallyNamed: "task_struct").contains(try KernelTypes.id("task_struct")))
        #expect(try KernelBTF.vmlinux() === KernelBTF.vmlinux())
    }

    @Test func essentialNamesDropOnlyRealFlavorSuffixes() {
        func essential(_ s: String) -> String { String(decoding: BTFTable.essential(Array(s.utf8)[...]), as: UTF8.self) }
        #expect(essential("task_struct___fake") == "task_struct")
        #expect(essential("a___b___c") == "a___b")
        #expect(essential("___x") == "___x")
        #expect(essential("a____b") == "a____b")
        #expect(essential("plain") == "plain")
    }

    @Test func planShowsRelocatedCodeAndPoisonKeepsTheInstructionCount() throws {
        let obj = try COREFixture.open()
        let program = try #require(obj.program(named: "reached_missing"))
        program.autoload = true
        try obj.relocate(createMaps: false)
        let linked = try #require(program.linked)
        #expect(linked.instructions.count == program.spec.function.count)
        let poisoned = try #require(linked.coreFailures.keys.first)
        #expect(linked.instructions[poisoned] == Instruction(opcode: Instruction.callOpcode, immediate: 0xbad2310))
        #expect(linked.coreFailures[poisoned]?.contains("field access 'struct task_struct___fake::nonexistent' (0:0) not found in kernel BTF") == true)
        // The relocated offset of task_struct::pid is already in the planned code.
        let fields = try #require(obj.program(named: "fields")?.linked)
        let pid = try #require(KernelTypes.member("pid", in: try KernelTypes.id("task_struct")))
        #expect(fields.instructions.contains { $0.immediate == Int32(pid.bits / 8) })
    }

    @Test func ambiguousFlavorsAreAnError() throws {
        let path = try Cilium.path("btf/testdata/relocs-el.elf")
        var options = LoadOptions.noPins
        options.coreTarget = try CORETarget.file(path)
        let obj = try BPFObject.open(path: path, options: options)
        for p in obj.programs { p.autoload = p.name == "err_ambiguous" }
        let error = #expect(throws: LoaderError.self) { try obj.relocate(createMaps: false) }
        #expect(error?.step == .relocate)
        #expect(error?.message.contains("ambiguous") == true)
    }
}

/// Each CO-RE kind resolved against the running kernel, loaded and run; the results map holds
/// the relocated values.
@Suite(.enabled(if: KernelGate.enabledWithKernelBTF, "needs bpf() as root and kernel BTF"), .kernel)
struct CORETests {
    func run(_ program: String) throws -> (ret: UInt32, slots: [UInt64]) {
        let obj = try COREFixture.open()
        for p in obj.programs { p.autoload = p.name == program }
        try obj.load()
        let ret = try obj.program(named: program)!.run()
        let map = try #require(obj.map(named: "results"))
        let slots = try (0..<12).map { slot in
            let bytes = try map.lookup(key: .le(UInt32(slot))) ?? []
            return bytes.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        }
        return (ret, slots)
    }

    @Test func fieldOffsetsSizesAndExistenceAreTheKernels() throws {
        let (ret, s) = try run("fields")
        #expect(ret == 1)
        let pid = try #require(KernelTypes.member("pid", in: try KernelTypes.id("task_struct")))
        #expect(s[0] == UInt64(pid.bits / 8))
        #expect(s[1] == 4)
        #expect(s[2] == 1)
        #expect(s[3] == 0, "a field the kernel lacks")
        #expect(s[4] == s[0], "a flavor with another layout relocates to the kernel's offset")
        #expect(s[5] == UInt64(try KernelTypes.offset(["se", "vruntime"], in: "task_struct")))
        #expect(s[6] == UInt64(try KernelTypes.offset(["comm"], in: "task_struct") + 3))
        #expect(s[7] == 1, "bpf_insn.off is signed")
        #expect(s[8] == 0, "bpf_insn.code is unsigned")
        #expect(s[9] == 16, "comm is char[16]")
    }

    @Test func typeExistenceSizeAndIDsAreTheKernels() throws {
        let obj = try COREFixture.open()
        let (ret, s) = try run("types")
        #expect(ret == 2)
        #expect(s[0] == 1)
        #expect(s[1] == 0)
        let task = try KernelTypes.id("task_struct")
        #expect(s[2] == UInt64(try KernelTypes.btf.size(of: task)))
        #expect(s[3] == UInt64(task))
        #expect(s[4] == UInt64(try #require(obj.spec.btf?.firstType(named: "task_struct", kind: .struct))))
        #expect(s[5] == 0 && s[6] == 0, "size and id of a missing type are 0")
    }

    @Test func enumValuesAreTheKernels() throws {
        let (ret, s) = try run("enums")
        #expect(ret == 3)
        #expect(s[0] == 1)
        #expect(s[1] == UInt64(try KernelTypes.enumValue("BPF_MAP_TYPE_ARRAY", in: "bpf_map_type")))
        #expect(s[2] == UInt64(try KernelTypes.enumValue("BPF_MAP_TYPE_ARENA", in: "bpf_map_type")))
        #expect(s[3] == 0, "an enumerator the kernel lacks")
    }

    @Test func bitfieldsReadThroughTheKernelsLayout() throws {
        let (ret, s) = try run("bitfields")
        #expect(ret == 4)
        #expect(s[0] == 5 && s[1] == 0xa, "dst_reg and src_reg of the sample instruction")
        let src = try #require(KernelTypes.member("src_reg", in: try KernelTypes.id("bpf_insn")))
        #expect(src.member.bitfieldSize == 4)
        // Read as one byte at byte 1 (bits 8..15): shift the field's top bit to bit 63, then down.
        #expect(s[4] == UInt64(src.bits / 8) && s[5] == 1)
        #expect(s[2] == UInt64(64 - (src.bits + 4 - Int(s[4]) * 8)))
        #expect(s[3] == 60)
    }

    @Test func loadsFollowTheKernelsOffsetsAndWidths() throws {
        let (ret, s) = try run("loads")
        #expect(ret == 5)
        #expect(s[0] == 0x12345678, "imm is at offset 4 in the kernel, 0 locally")
        #expect(s[1] == 0x85, "code is at offset 0 in the kernel, 4 locally")
        #expect(s[2] == 0x85, "an 8-byte local load of a 1-byte unsigned field becomes a 1-byte load")
    }

    @Test func typeMatchesFollowsLibbpfRules() throws {
        let (ret, s) = try run("matches")
        #expect(ret == 6)
        #expect(s[0] == 1, "vmlinux.h's list_head: pointers to itself")
        #expect(s[1] == 0, "a member of another size")
        #expect(s[2] == 1, "enumerators by name, and the size")
        // Integer names must match too: clang calls __s16 'short', the kernel's gcc 'short int';
        // libbpf says "no match" for vmlinux.h's own bpf_insn as well.
        #expect(s[3] == 0)
        #expect(s[4] == 1, "callback_head: a function pointer whose parameter points back")
    }

    @Test func poisonedButUnreachedRelocationLoads() throws {
        let (ret, _) = try run("guarded_missing")
        #expect(ret == 7)
    }

    @Test func reachedPoisonedRelocationNamesTheAccessInTheLoadError() throws {
        let obj = try COREFixture.open()
        for p in obj.programs { p.autoload = p.name == "reached_missing" }
        let error = #expect(throws: LoaderError.self) { try obj.load() }
        #expect(error?.step == .load)
        #expect(error?.message.contains("CO-RE relocation #") == true)
        #expect(error?.message.contains("field access 'struct task_struct___fake::nonexistent' (0:0) not found in kernel BTF") == true)
        #expect(error?.verifierLog?.contains("unknown#195896080") == true)
    }

    /// Issue 9: an instance that went through a preprocessor keeps its program's CO-RE failure
    /// notes, moved by the prologue in front of the body, so the error names the access rather
    /// than being a bare verifier refusal.
    @Test func reachedPoisonedRelocationBehindAPrologueStillNamesTheAccess() throws {
        let obj = try COREFixture.open()
        for p in obj.programs { p.autoload = p.name == "reached_missing" }
        let p = try #require(obj.program(named: "reached_missing"))
        try p.setPreprocessor(instances: 2) { ctx, insns in
            [Instruction.mov64(dst: 6, immediate: Int32(ctx.instance)), Instruction.mov64(dst: 7, immediate: 1)] + insns
        }
        let error = #expect(throws: LoaderError.self) { try obj.load() }
        #expect(error?.step == .load)
        #expect(error?.location?.hasPrefix("program 'reached_missing' instance 0, instruction 2") == true)
        #expect(error?.message == "kernel verifier rejected the program (4 instructions, type socket_filter): CO-RE relocation #0: field access 'struct task_struct___fake::nonexistent' (0:0) not found in kernel BTF")
        #expect(error?.hint == "guard the access with bpf_core_field_exists()/bpf_core_type_exists(), or fix the local type definition")
    }
}
