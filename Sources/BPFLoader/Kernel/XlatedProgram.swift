import CBPFSys
#if canImport(Glibc)
import Glibc
#endif

/// What the kernel holds for a loaded program, read the way `bpftool prog dump xlated` reads it
/// (`BPF_OBJ_GET_INFO_BY_FD`): the translated instructions (map fds replaced by map ids, helper
/// calls by offsets from `__bpf_call_base`), func_info and line_info counted in those
/// instructions, and the program's BTF for their text.
public struct XlatedProgram {
    public var id: UInt32
    public var name: String
    public var instructions: [Instruction]
    public var funcInfo: [FuncInfo]
    public var lineInfo: [LineInfo]
    /// The program's BTF (`btf_id`), for signatures and source lines; nil when it has none.
    var btf: BTF?
    /// Addresses of the JITed functions, entry first: how bpftool names subprogram calls.
    var jitedSymbols: [UInt64]

    /// Opens the pin (`BPF_OBJ_GET`) and reads the program behind it.
    public static func pinned(_ path: String) throws -> XlatedProgram {
        let fd: FileDescriptor
        switch BPFCommand.get(pinned: path) {
        case .success(let f): fd = f
        case .failure(let e): throw LoaderError(.load, file: path, "cannot open the pinned program", errno: e)
        }
        // A pinned map or link answers BPF_OBJ_GET_INFO_BY_FD too, with its own info struct;
        // the fd's inode name says what it is.
        let kind = fdKind(fd)
        if let kind, kind != "bpf-prog" {
            throw LoaderError(.load, file: path, "is a pinned \(kind.dropFirst(4)), not a program", hint: "pass the pin of a program (bpftool prog show pinned PATH)")
        }
        do { return try XlatedProgram(fd: fd) } catch let e as LoaderError { throw e.inFile(path) }
    }

    /// `bpf-prog`, `bpf-map`, `bpf_link`, ... from `/proc/self/fd`; nil when it cannot be read.
    private static func fdKind(_ fd: FileDescriptor) -> String? {
        var buf = [CChar](repeating: 0, count: 256)
        let n = readlink("/proc/self/fd/\(fd.rawValue)", &buf, buf.count - 1)
        guard n > 0 else { return nil }
        let target = String(decoding: buf[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return target.hasPrefix("anon_inode:") ? String(target.dropFirst("anon_inode:".count)) : nil
    }

    public init(fd: FileDescriptor) throws {
        func fail(_ what: String, _ e: Errno? = nil, hint: String? = nil) -> LoaderError {
            LoaderError(.load, at: "program", what, errno: e, hint: hint)
        }
        // First ask for the sizes, then hand over buffers of exactly those sizes; every other
        // length stays 0 so that the kernel copies nothing else.
        guard case .success(let sizes) = BPFCommand.programInfo(fd) else {
            throw fail("not a BPF program", .invalidArgument)
        }
        guard sizes.xlated_prog_len > 0 else {
            throw fail("the kernel returned no translated instructions", hint: "reading them needs CAP_SYS_ADMIN (run as root)")
        }
        var code = [UInt8](repeating: 0, count: Int(sizes.xlated_prog_len))
        let funcSize = Int(sizes.func_info_rec_size), lineSize = Int(sizes.line_info_rec_size)
        var funcs = [UInt8](repeating: 0, count: Int(sizes.nr_func_info) * funcSize)
        var lines = [UInt8](repeating: 0, count: Int(sizes.nr_line_info) * lineSize)
        var ksyms = [UInt64](repeating: 0, count: Int(sizes.nr_jited_ksyms))
        let result: Result<bpf_prog_info, Errno> = code.withUnsafeMutableBytes { c in
            funcs.withUnsafeMutableBytes { f in
                lines.withUnsafeMutableBytes { l in
                    ksyms.withUnsafeMutableBytes { k in
                        var info = bpf_prog_info()
                        info.xlated_prog_len = UInt32(c.count)
                        info.xlated_prog_insns = address(UnsafeRawBufferPointer(c))
                        info.nr_func_info = sizes.nr_func_info
                        info.func_info_rec_size = sizes.func_info_rec_size
                        info.func_info = address(UnsafeRawBufferPointer(f))
                        info.nr_line_info = sizes.nr_line_info
                        info.line_info_rec_size = sizes.line_info_rec_size
                        info.line_info = address(UnsafeRawBufferPointer(l))
                        info.nr_jited_ksyms = sizes.nr_jited_ksyms
                        info.jited_ksyms = address(UnsafeRawBufferPointer(k))
                        return BPFCommand.programInfo(fd, filling: info)
                    }
                }
            }
        }
        var info: bpf_prog_info
        switch result {
        case .success(let i): info = i
        case .failure(let e): throw fail("cannot read the program's instructions", e)
        }
        id = info.id
        name = withUnsafeBytes(of: &info.name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        instructions = Instruction.decode(code[...])
        funcInfo = stride(from: 0, to: funcs.count, by: max(funcSize, 1)).compactMap { o in
            var r = ByteReader(Array(funcs[o..<o + funcSize]))
            guard let insn = r.u32(), let type = r.u32() else { return nil }
            return FuncInfo(instruction: Int(insn), typeID: type)
        }
        lineInfo = stride(from: 0, to: lines.count, by: max(lineSize, 1)).compactMap { o in
            var r = ByteReader(Array(lines[o..<o + lineSize]))
            guard let insn = r.u32(), let file = r.u32(), let line = r.u32(), let col = r.u32() else { return nil }
            return LineInfo(instruction: Int(insn), fileNameOffset: file, lineOffset: line, lineColumn: col)
        }
        jitedSymbols = ksyms
        // Without its BTF the listing loses signatures and source lines, not instructions.
        if info.btf_id != 0, case .success(let blob) = BPFCommand.btf(id: info.btf_id) {
            btf = try? BTF(bytes: blob, path: "BTF id \(info.btf_id)")
        } else {
            btf = nil
        }
    }

    /// The program in `bpftool prog dump xlated` layout. Helper and subprogram calls are named
    /// from `/proc/kallsyms` as bpftool does (`call bpf_ktime_get_ns#279088`,
    /// `call pc+3#bpf_prog_<tag>_<name>`), maps by id (`map[id:N]`).
    public func listing(symbols: KernelSymbols = KernelSymbols.load()) -> String {
        let jited = jitedSymbols
        let disassembler = Disassembler(maps: .kernelIDs) { insn in
            // bpftool's print_call: a subprogram call keeps its pc-relative offset in `off`
            // and its index among the JITed functions in `imm`.
            if insn.src == Instruction.pseudoCall {
                let rel = Disassembler.signed(insn.offset)
                guard !jited.isEmpty else { return rel }
                let address = UInt32(bitPattern: insn.immediate) < jited.count ? jited[Int(insn.immediate)]
                                                                                 : symbols.callBase &+ UInt64(bitPattern: Int64(insn.immediate))
                return rel + "#" + (symbols.name(at: address) ?? "0x" + String(address, radix: 16))
            }
            let address = symbols.callBase &+ UInt64(bitPattern: Int64(insn.immediate))
            return symbols.name(at: address) ?? "0x" + String(address, radix: 16)
        }
        var functions: [Int: String] = [:]
        var lines: [Int: String] = [:]
        if let btf {
            for f in funcInfo { functions[f.instruction] = btf.functionSignature(f.typeID) }
            for l in lineInfo where lines[l.instruction] == nil {
                if let text = btf.string(at: l.lineOffset) { lines[l.instruction] = String(text.drop { $0 == " " || $0 == "\t" || $0 == "\n" }) }
            }
        }
        return disassembler.listing(instructions, functions: functions, sourceLines: lines)
    }
}
