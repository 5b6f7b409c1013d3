import Glibc
import Testing
@testable import BPFLoader

/// Compiles a BPF C source with clang into a fresh temp dir and returns the object's path.
private func btfTestCompile(_ source: String, name: String = "x") throws -> String {
    var template = Array("/tmp/btftest.XXXXXX".utf8CString)
    guard let dirPtr = mkdtemp(&template) else { throw CompileError(message: "mkdtemp failed") }
    let dir = String(cString: dirPtr)
    let src = "\(dir)/\(name).bpf.c", obj = "\(dir)/\(name).o", log = "\(dir)/clang.log"
    guard let f = fopen(src, "w") else { throw CompileError(message: "cannot write \(src)") }
    fputs(source, f)
    fclose(f)
    let status = system("clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c \(src) -o \(obj) 2>\(log)")
    guard status == 0 else {
        let bytes = (try? FileBytes.read(path: log, step: .build)) ?? []
        throw CompileError(message: "clang failed (\(status)):\n" + String(decoding: bytes, as: UTF8.self))
    }
    return obj
}

private struct CompileError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Maps, global data of every kind (with a static and a function-local static), a static
/// subprogram, and no externs: the common case, whose BTF must load unchanged after the fix-up.
private let globalsSource = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>

    struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 16); __type(key, __u32); __type(value, __u64); } counts SEC(".maps");
    struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u32); } other SEC(".maps");
    int data_a = 1;
    long data_b = 2;
    static int data_s = 5;
    const volatile int ro_a = 3;
    const volatile char ro_b[10] = "hi";
    int bss_a;
    long bss_b[4];

    static __noinline int helper(int x) {
        static int calls;
        calls++;
        return x * 2 + calls;
    }

    SEC("socket") int prog(struct __sk_buff *skb) {
        __u32 k = 0;
        __u64 *v = bpf_map_lookup_elem(&counts, &k);
        if (v)
            *v += 1;
        bss_a += data_a + ro_a + data_s++;
        bss_b[1] = ro_b[0] + data_b;
        return helper(skb->len);
    }
    char LICENSE[] SEC("license") = "GPL";
    """

/// Externs the kernel's BTF checker refuses as clang emits them, plus a CO-RE field access.
private let externsSource = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    #include <bpf/bpf_core_read.h>

    extern int LINUX_KERNEL_VERSION __kconfig;
    extern _Bool CONFIG_BPF_SYSCALL __kconfig __weak;
    extern const void bpf_prog_active __ksym;
    extern void bpf_rcu_read_lock(void) __ksym;
    struct pair { int a; int b; } __attribute__((preserve_access_index));
    int out;

    SEC("socket") int prog(struct __sk_buff *skb) {
        struct pair *p = (void *)(long)skb->data;
        if (bpf_core_field_exists(p->b))
            out = LINUX_KERNEL_VERSION + CONFIG_BPF_SYSCALL + (long)&bpf_prog_active;
        bpf_rcu_read_lock();
        return 0;
    }
    char LICENSE[] SEC("license") = "GPL";
    """

private func objectBTF(_ path: String) throws -> (ELFFile, BTF) {
    let elf = try ELFFile.read(path: path)
    let section = try #require(elf.section(named: ".BTF"))
    return (elf, try BTF(bytes: section.data, path: path))
}

private func fixed(_ btf: BTF, _ elf: ELFFile) -> BTF {
    btf.fixingDatasecs(
        sectionSize: { name in elf.section(named: name)?.size },
        symbolOffset: { name in elf.symbols.first { $0.name == name && $0.isObject }.map { UInt32($0.value) } })
}

/// A hand-made blob: the given type records and a string table holding `names`.
private func blob(types: [[UInt32]], names: [String] = ["", "a", "b"]) -> [UInt8] {
    let typeBytes = types.flatMap { $0.flatMap { [UInt8].le($0) } }
    let strings: [UInt8] = names.flatMap { Array($0.utf8) + [UInt8(0)] }
    let version: [UInt8] = [1, 0]
    var out: [UInt8] = .le(UInt16(0xEB9F)) + version + .le(UInt32(24))
    out += .le(UInt32(0)) + .le(UInt32(typeBytes.count)) + .le(UInt32(typeBytes.count)) + .le(UInt32(strings.count))
    return out + typeBytes + strings
}

private func info(_ kind: BTFKind, vlen: UInt32 = 0, flag: Bool = false) -> UInt32 {
    UInt32(kind.rawValue) << 24 | vlen | (flag ? 1 << 31 : 0)
}

// Holds the descriptor lock: some tests load BTF into the kernel, which fd-counting suites would see.
@Suite(.kernel) struct BTFTests {
    @Test func parsesMapsAndGlobalDataSections() throws {
        let (_, btf) = try objectBTF(try btfTestCompile(globalsSource))
        let maps = try #require(btf.datasec(named: ".maps"))
        #expect(maps.vars.map(\.name) == ["counts", "other"])
        #expect(btf.datasec(named: ".data")?.vars.map(\.name).sorted() == ["data_a", "data_b", "data_s"])
        #expect(btf.datasec(named: ".rodata")?.vars.map(\.name).sorted() == ["ro_a", "ro_b"])
        #expect(btf.datasec(named: ".bss")?.vars.map(\.name).sorted() == ["bss_a", "bss_b", "helper.calls"])

        // A map definition is a struct of four 8-byte pointers; `max_entries` is `int (*)[16]`.
        let countsVar = try #require(btf.firstType(named: "counts", kind: .var))
        #expect(try btf.size(of: countsVar) == 32)
        let countsType = try #require(btf.type(countsVar)).sizeOrType
        let def = try #require(btf.type(btf.skipModifiers(countsType)))
        let maxEntries = try #require(def.members.first { $0.name == "max_entries" })
        let pointer = try #require(btf.type(maxEntries.type))
        let pointee = try #require(btf.type(pointer.sizeOrType))
        #expect(pointee.array?.nelems == 16)

        #expect(try btf.size(of: try #require(btf.firstType(named: "ro_b", kind: .var))) == 10)
        #expect(try btf.size(of: try #require(btf.firstType(named: "bss_b", kind: .var))) == 32)
        #expect(btf.type(UInt32(btf.types.count)) == nil)
    }

    @Test func datasecFixupSetsSectionSizesAndSymbolOffsets() throws {
        let path = try btfTestCompile(globalsSource)
        let (elf, btf) = try objectBTF(path)
        #expect(btf.datasec(named: ".data")?.vars.allSatisfy { $0.name == "data_s" || $0.offset == 0 } == true)

        let fixedBTF = fixed(btf, elf)
        for section in [".maps", ".data", ".rodata", ".bss", "license"] {
            let sec = try #require(fixedBTF.datasec(named: section))
            #expect(fixedBTF.type(sec.id)?.sizeOrType == UInt32(try #require(elf.section(named: section)).size), "\(section)")
            for v in sec.vars {
                let symbolName = v.name
                let symbol = try #require(elf.symbols.first { $0.name == symbolName && $0.isObject }, "\(v.name)")
                #expect(v.offset == UInt32(symbol.value), "\(section) \(v.name)")
            }
            #expect(sec.vars.map(\.offset) == sec.vars.map(\.offset).sorted(), "\(section) entries sorted by offset")
        }
        // The patched bytes say the same as the patched types.
        let reparsed = try BTF(bytes: fixedBTF.rawBytes, path: path)
        for section in [".maps", ".data", ".rodata", ".bss"] {
            #expect(reparsed.datasec(named: section)?.vars.map(\.offset) == fixedBTF.datasec(named: section)?.vars.map(\.offset))
            #expect(reparsed.datasec(named: section).map { reparsed.types[Int($0.id)].sizeOrType }
                    == fixedBTF.datasec(named: section).map { fixedBTF.types[Int($0.id)].sizeOrType })
        }
        #expect(btf.rawBytes != fixedBTF.rawBytes)
        #expect(btf.rawBytes.count == fixedBTF.rawBytes.count)
    }

    /// The kernel's refusal of `blob`: nil (and an issue) if it accepted it.
    func rejection(_ blob: [UInt8]) -> KernelRejection? {
        switch BPFCommand.loadBTF(blob, logSize: 1 << 16) {
        case .success: return nil
        case .failure(let r): return r
        }
    }

    @Test(.enabled(if: KernelGate.enabled, "needs bpf() as root"))
    func fixedBTFWithoutExternsLoadsIntoTheKernelUnchangedBySanitizing() throws {
        let (elf, btf) = try objectBTF(try btfTestCompile(globalsSource))
        let fixedBTF = fixed(btf, elf)
        #expect(fixedBTF.sanitizedForKernel().rawBytes == fixedBTF.rawBytes)
        switch BPFCommand.loadBTF(fixedBTF.rawBytes, logSize: 1 << 16) {
        case .success: break
        case .failure(let rejection): Issue.record("kernel refused the fixed BTF: \(rejection.errno)\n\(rejection.log)")
        }
        // Without the fix-up the kernel refuses zero-sized DATASECs: the fix-up is what makes it
        // load. EINVAL, with the verifier's reason, and not (say) EPERM for a missing capability.
        let refusal = try #require(rejection(btf.rawBytes), "kernel accepted unfixed BTF")
        #expect(refusal.errno == .invalidArgument, "\(refusal.errno): \(refusal.log)")
        #expect(refusal.log.split(separator: "\n").contains { $0.contains("DATASEC") && $0.hasSuffix("size == 0") }, "\(refusal.log)")
    }

    @Test(.enabled(if: KernelGate.enabled, "needs bpf() as root"))
    func sanitizedBTFWithKconfigAndKsymExternsLoadsIntoTheKernel() throws {
        let (elf, btf) = try objectBTF(try btfTestCompile(externsSource))
        let fixedOnly = fixed(btf, elf)
        // Extern VARs and the unsized .kconfig/.ksyms DATASECs are what the kernel refuses.
        let refusal = try #require(rejection(fixedOnly.rawBytes), "kernel accepted BTF with raw externs")
        #expect(refusal.errno == .invalidArgument, "\(refusal.errno): \(refusal.log)")
        let sanitized = fixedOnly.sanitizedForKernel()
        switch BPFCommand.loadBTF(sanitized.rawBytes, logSize: 1 << 16) {
        case .success: break
        case .failure(let rejection): Issue.record("kernel refused the sanitized BTF: \(rejection.errno)\n\(rejection.log)")
        }
        let ksyms = try #require(sanitized.datasec(named: ".ksyms"))
        #expect(ksyms.vars.map(\.offset) == [0, 4])
        #expect(ksyms.vars.allSatisfy { $0.size == 4 && sanitized.type($0.typeID)?.varLinkage == BTFVarLinkage.globalAllocated })
        #expect(sanitized.type(ksyms.id)?.sizeOrType == 8)
        let kconfig = try #require(sanitized.datasec(named: ".kconfig"))
        let layout = Dictionary(uniqueKeysWithValues: kconfig.vars.map { ($0.name, ($0.offset, $0.size)) })
        let version = try #require(layout["LINUX_KERNEL_VERSION"])
        let syscall = try #require(layout["CONFIG_BPF_SYSCALL"])
        #expect(version.1 == 4 && syscall.1 == 1)
        #expect(version.0 % 4 == 0 && (version.0 + 4 <= syscall.0 || syscall.0 + 1 <= version.0))
        #expect(sanitized.types.allSatisfy { $0.kind != .func || $0.funcLinkage != BTFFuncLinkage.extern })
        #expect(sanitized.types.count > btf.types.count, "a placeholder VAR stands in for the extern function")
    }

    @Test func btfExtHasFuncAndLineInfoForProgramAndStaticSubprogram() throws {
        let path = try btfTestCompile(globalsSource)
        let (elf, btf) = try objectBTF(path)
        let ext = try BTFExt(bytes: try #require(elf.section(named: ".BTF.ext")).data, btf: btf, path: path)

        let progFuncs = try #require(ext.funcInfo["socket"])
        #expect(progFuncs.map(\.insnOffset) == [0])
        #expect(btf.type(progFuncs[0].typeID)?.name == "prog")
        #expect(btf.type(progFuncs[0].typeID)?.kind == .func)
        let textFuncs = try #require(ext.funcInfo[".text"])
        #expect(textFuncs.map(\.insnOffset) == [0])
        #expect(btf.type(textFuncs[0].typeID)?.name == "helper")
        #expect(btf.type(textFuncs[0].typeID)?.funcLinkage == BTFFuncLinkage.static)

        let lines = try #require(ext.lineInfo["socket"])
        #expect(lines.first?.insnOffset == 0)
        #expect(lines.allSatisfy { $0.insnOffset % 8 == 0 && $0.insnOffset < UInt32(elf.section(named: "socket")!.size) })
        let sourceLines = UInt32(globalsSource.split(separator: "\n", omittingEmptySubsequences: false).count)
        #expect(lines.allSatisfy { $0.line >= 1 && $0.line <= sourceLines })
        #expect(lines.allSatisfy { btf.string(at: $0.fileNameOffset)?.hasSuffix("x.bpf.c") == true })
        #expect(lines.contains { btf.string(at: $0.lineOffset)?.contains("bpf_map_lookup_elem") == true })
        #expect(ext.lineInfo[".text"]?.isEmpty == false)
        #expect(ext.coreRelocations.isEmpty)
    }

    @Test func btfExtHasCORERelocations() throws {
        let path = try btfTestCompile(externsSource)
        let (elf, btf) = try objectBTF(path)
        let ext = try BTFExt(bytes: try #require(elf.section(named: ".BTF.ext")).data, btf: btf, path: path)
        let relos = try #require(ext.coreRelocations["socket"])
        let exists = try #require(relos.first { $0.kind == .fieldExists })
        #expect(btf.type(exists.typeID)?.name == "pair")
        #expect(btf.string(at: exists.accessStrOffset) == "0:1")
    }

    @Test(.enabled(if: KernelGate.kernelBTFEnabled, "needs /sys/kernel/btf/vmlinux"))
    func parsesKernelBTF() throws {
        let bytes = try FileBytes.read(path: "/sys/kernel/btf/vmlinux", step: .open)
        let btf = try BTF(bytes: bytes, path: "/sys/kernel/btf/vmlinux")
        #expect(btf.types.count > 10_000)
        let task = try #require(btf.firstType(named: "task_struct", kind: .struct))
        #expect(try btf.size(of: task) > 1000)
        #expect(btf.type(task)?.members.contains { $0.name == "pid" } == true)
        #expect(btf.firstType(named: "task_struct", kind: .union) == nil)
    }

    @Test func truncatedBlobsThrowAtEveryLength() throws {
        let path = try btfTestCompile(globalsSource)
        let (elf, btf) = try objectBTF(path)
        let raw = btf.rawBytes
        for length in stride(from: 0, to: raw.count, by: 1) {
            #expect(throws: LoaderError.self, "length \(length)") { try BTF(bytes: Array(raw[0..<length]), path: path) }
        }
        let extRaw = try #require(elf.section(named: ".BTF.ext")).data
        for length in stride(from: 0, to: extRaw.count, by: 1) {
            #expect(throws: LoaderError.self, "length \(length)") { try BTFExt(bytes: Array(extRaw[0..<length]), btf: btf, path: path) }
        }
    }

    @Test func hostileHeadersAndRecordsThrow() throws {
        let int32: [UInt32] = [1, info(.int), 4, 32]
        #expect(try BTF(bytes: blob(types: [int32]), path: "t").types.count == 2)

        var badMagic = blob(types: [int32])
        badMagic[0] = 0x00
        #expect(throws: LoaderError.self) { try BTF(bytes: badMagic, path: "t") }
        var bigEndian = blob(types: [int32])
        bigEndian.swapAt(0, 1)
        #expect(throws: LoaderError.self) { try BTF(bytes: bigEndian, path: "t") }
        var badVersion = blob(types: [int32])
        badVersion[2] = 2
        #expect(throws: LoaderError.self) { try BTF(bytes: badVersion, path: "t") }
        var hugeTypeLen = blob(types: [int32])
        hugeTypeLen.putLE(UInt32.max, at: 12)
        #expect(throws: LoaderError.self) { try BTF(bytes: hugeTypeLen, path: "t") }
        var hugeHeader = blob(types: [int32])
        hugeHeader.putLE(UInt32.max, at: 4)
        #expect(throws: LoaderError.self) { try BTF(bytes: hugeHeader, path: "t") }

        let nameOut = #expect(throws: LoaderError.self) { try BTF(bytes: blob(types: [[999, info(.int), 4, 32]]), path: "t") }
        #expect(nameOut?.message.contains("type [1]") == true)
        #expect(throws: LoaderError.self) { try BTF(bytes: blob(types: [[0, info(.struct, vlen: 1), 4, 999, 1, 0]]), path: "t") }
        let unknownKind = #expect(throws: LoaderError.self) { try BTF(bytes: blob(types: [[0, 20 << 24, 0]]), path: "t") }
        #expect(unknownKind?.message.contains("unknown kind 20") == true)
        // 65535 members promised, none present: must throw without reserving room for them.
        #expect(throws: LoaderError.self) { try BTF(bytes: blob(types: [[0, info(.struct, vlen: 0xffff), 4]]), path: "t") }
        #expect(throws: LoaderError.self) { try BTF(bytes: blob(types: [[1, info(.ptr), 7]]), path: "t") }
        #expect(throws: LoaderError.self) { try BTF(bytes: blob(types: [int32, [0, info(.datasec, vlen: 1), 4, 1, 0, 4]]), path: "t") }
    }

    @Test func typeLoopsEndInAnErrorNotAHang() throws {
        // typedef a -> b -> a, and an array of itself.
        let btf = try BTF(bytes: blob(types: [[1, info(.typedef), 2], [2, info(.typedef), 1],
                                               [0, info(.array), 0, 3, 3, 4]]), path: "t")
        #expect(throws: LoaderError.self) { try btf.size(of: 1) }
        #expect(throws: LoaderError.self) { try btf.size(of: 3) }
        #expect([1, 2].contains(btf.skipModifiers(1)))
        #expect(throws: LoaderError.self) { try btf.size(of: 0) }
        #expect(throws: LoaderError.self) { try btf.size(of: 99) }

        // An array whose element count times size overflows Int.
        let huge = try BTF(bytes: blob(types: [[1, info(.int), 4, 32], [0, info(.array), 0, 1, 1, 0xffff_ffff],
                                                [0, info(.array), 0, 2, 1, 0xffff_ffff], [0, info(.array), 0, 3, 1, 0xffff_ffff]]), path: "t")
        #expect(throws: LoaderError.self) { try huge.size(of: 4) }
    }

    @Test func hostileBTFExtThrows() throws {
        let path = try btfTestCompile(globalsSource)
        let (elf, btf) = try objectBTF(path)
        let good = try #require(elf.section(named: ".BTF.ext")).data
        var badMagic = good
        badMagic[1] = 0
        #expect(throws: LoaderError.self) { try BTFExt(bytes: badMagic, btf: btf, path: path) }
        var smallRecord = good
        let funcInfoStart = Int(good[4]) + Int(UInt32(good[8]) | UInt32(good[9]) << 8)
        smallRecord.putLE(UInt32(4), at: funcInfoStart)
        #expect(throws: LoaderError.self) { try BTFExt(bytes: smallRecord, btf: btf, path: path) }
        var badSectionName = good
        badSectionName.putLE(UInt32.max, at: funcInfoStart + 4)
        #expect(throws: LoaderError.self) { try BTFExt(bytes: badSectionName, btf: btf, path: path) }
        var tooManyRecords = good
        tooManyRecords.putLE(UInt32.max, at: funcInfoStart + 8)
        #expect(throws: LoaderError.self) { try BTFExt(bytes: tooManyRecords, btf: btf, path: path) }
    }

    @Test func largerRecordSizesAreReadByTheirKnownPrefix() throws {
        // func_info with 12-byte records: {insn_off, type_id, extra}.
        let btf = try BTF(bytes: blob(types: [[1, info(.int), 4, 32]], names: ["", "int", "sec"]), path: "t")
        let funcInfo: [UInt32] = [12, 5, 2, 8, 1, 0xdead, 16, 1, 0xbeef]
        let body = funcInfo.flatMap { [UInt8].le($0) }
        let version: [UInt8] = [1, 0]
        var ext: [UInt8] = .le(UInt16(0xEB9F)) + version + .le(UInt32(24))
        ext += .le(UInt32(0)) + .le(UInt32(body.count)) + .le(UInt32(0)) + .le(UInt32(0))
        let parsed = try BTFExt(bytes: ext + body, btf: btf, path: "t")
        #expect(parsed.funcInfo["sec"] == [FuncInfoRecord(insnOffset: 8, typeID: 1), FuncInfoRecord(insnOffset: 16, typeID: 1)])
    }
}
