import CLibelf

/// Everything a BPF object declares, read from the file without touching the kernel: the result
/// of the open step. Relocation turns it into kernel objects; nothing here holds an fd.
public struct ObjectSpec: Sendable {
    public var path: String
    /// The file name up to its first '.', as libbpf names objects (used for global-data map names).
    public var name: String
    public var license: String
    public var kernelVersion: UInt32
    public var programs: [ProgramSpec]
    public var maps: [MapDefinition]
    var elf: ELFFile
    var btf: BTF?
    var btfExt: BTFExt?
    /// Entry points and subprograms, by where they start.
    var functions: [FunctionKey: FunctionSpec]
    /// Relocations of executable sections, by the instruction they patch.
    var codeRelocations: [CodeLocation: CodeRelocation]

    public static func open(path: String) throws -> ObjectSpec {
        try open(elf: ELFFile.read(path: path))
    }

    public static func open(bytes: [UInt8], path: String) throws -> ObjectSpec {
        try open(elf: ELFFile.parse(bytes, path: path))
    }

    static func open(elf: ELFFile) throws -> ObjectSpec {
        let path = elf.path
        let name = objectName(path)
        let license = try elf.section(named: "license").map { sec -> String in
            guard let end = sec.data.firstIndex(of: 0) else {
                throw LoaderError(.open, file: path, at: "section 'license'", "license string is not NUL-terminated")
            }
            return String(decoding: sec.data[..<end], as: UTF8.self)
        } ?? ""
        var kernelVersion: UInt32 = 0
        if let v = elf.section(named: "version") {
            var r = ByteReader(v.data)
            guard v.data.count == 4, let value = r.u32() else {
                throw LoaderError(.open, file: path, at: "section 'version'", "expected 4 bytes, found \(v.data.count)")
            }
            kernelVersion = value
        }
        let btf = try elf.section(named: ".BTF").map { try BTF(bytes: $0.data, path: path) }
        let btfExt = try elf.section(named: ".BTF.ext").flatMap { sec in try btf.map { try BTFExt(bytes: sec.data, btf: $0, path: path) } }

        let functions = try collectFunctions(elf)
        var programs = functions.values.filter(\.isProgram).sorted { ($0.sectionIndex, $0.start) < ($1.sectionIndex, $1.start) }
            .map { f -> ProgramSpec in
                let autoload = !f.sectionName.hasPrefix("?")
                let section = autoload ? f.sectionName : String(f.sectionName.dropFirst())
                return ProgramSpec(name: f.name, section: section, kind: SectionDefinitions.kind(forSection: section),
                                   autoload: autoload, function: f)
            }

        var maps: [MapDefinition] = []
        var mapSymbolIndex: [Int: Int] = [:]          // symbol index → map index, for relocations
        var dataSectionMap: [Int: Int] = [:]          // section index → global-data map index
        for sec in elf.sections {
            if sec.name == "maps" {
                let defs = try LegacyMaps.parse(section: sec, symbols: elf.symbols, path: path)
                for def in defs {
                    if let sym = elf.symbols.first(where: { $0.sectionIndex == sec.index && $0.name == def.name }) {
                        mapSymbolIndex[sym.index] = maps.count
                    }
                    maps.append(def)
                }
            } else if sec.name == ".maps" {
                guard let btf else {
                    throw LoaderError(.open, file: path, at: "section '.maps'", "BTF-defined maps need the object's .BTF section",
                                      hint: "compile with -g")
                }
                let defs = try BTFMaps.parse(section: sec, elf: elf, btf: btf, path: path)
                for def in defs {
                    if let sym = elf.symbols.first(where: { $0.sectionIndex == sec.index && $0.name == def.name }) {
                        mapSymbolIndex[sym.index] = maps.count
                    }
                    maps.append(def)
                }
            } else if StructOps.isSection(sec.name) {
                guard let btf else {
                    throw LoaderError(.open, file: path, at: "section '\(sec.name)'", "struct_ops variables need the object's .BTF section",
                                      hint: "compile with -g")
                }
                maps += try StructOps.parse(section: sec, elf: elf, btf: btf, path: path)
            } else if GlobalData.isDataSection(sec.name), sec.size > 0 {
                guard sec.size <= GlobalData.maxSectionSize else {
                    throw LoaderError(.open, file: path, at: "section '\(sec.name)'",
                                      "\(sec.size) bytes of global data do not fit in one map value (the kernel takes at most \(GlobalData.maxSectionSize >> 20) MiB, 4 MiB on x86-64)")
                }
                dataSectionMap[sec.index] = maps.count
                maps.append(GlobalData.definition(for: sec, objectName: name, btf: btf))
            }
        }
        if let btf, let kconfig = btf.datasec(named: kconfigSectionName), !kconfig.vars.isEmpty {
            // `__kconfig` externs live in a map of their own, filled from the kernel config at
            // relocation; its size comes from the layout the kernel fix-ups give the DATASEC.
            let layout = btf.sanitizedForKernel().datasec(named: kconfigSectionName)
            let size = layout.map { l in l.vars.map { Int($0.offset) + Int($0.size) }.max() ?? 0 } ?? 0
            // Kernel config values are a few bytes each; a layout this large comes from a broken
            // or hostile BTF, and would otherwise be allocated at relocation.
            guard size <= maxKconfigSize else {
                throw LoaderError(.open, file: path, at: "section '.kconfig'", "the BTF lays out \(size) bytes of kernel config values; at most \(maxKconfigSize) are believable")
            }
            var def = MapDefinition(name: GlobalData.mapName(objectName: name, section: kconfigSectionName),
                                    type: 2 /* BPF_MAP_TYPE_ARRAY */, keySize: 4, valueSize: UInt32(clamping: max(size, 1)), maxEntries: 1,
                                    flags: 1 << 7 /* BPF_F_RDONLY_PROG */, origin: .globalData(section: kconfigSectionName))
            def.freezeAfterInit = true
            maps.append(def)
        }
        programs = StructOps.disablingUnusedPrograms(programs, maps: maps)
        var seen = Set<String>()
        for m in maps where !seen.insert(m.name).inserted {
            throw LoaderError(.open, file: path, at: "map '\(m.name)'", "two maps share this name")
        }

        let relocs = try classifyRelocations(elf, functions: functions, mapSymbolIndex: mapSymbolIndex, dataSectionMap: dataSectionMap)
        return ObjectSpec(path: path, name: name, license: license, kernelVersion: kernelVersion, programs: programs,
                          maps: maps, elf: elf, btf: btf, btfExt: btfExt, functions: functions, codeRelocations: relocs)
    }

    static func objectName(_ path: String) -> String {
        let base = path.split(separator: "/").last.map(String.init) ?? path
        return String(base.split(separator: ".", maxSplits: 1).first ?? Substring(base))
    }

    /// Every function symbol in an executable section; those outside `.text` are programs.
    private static func collectFunctions(_ elf: ELFFile) throws -> [FunctionKey: FunctionSpec] {
        var functions: [FunctionKey: FunctionSpec] = [:]
        // Old clang (7 and earlier) tags no symbol STT_FUNC: functions are STT_NOTYPE of size 0.
        // For such objects take NOTYPE symbols as cilium/ebpf does, leaving out the local `LBB...`
        // basic-block labels. Objects that do tag functions keep to STT_FUNC, so labels of inline
        // asm (NOTYPE too) never become functions.
        let tagsFunctions = elf.symbols.contains { $0.isFunction }
        func isFunctionStart(_ s: ELFSymbol) -> Bool {
            if tagsFunctions { return s.isFunction }
            return s.type == UInt8(STT_NOTYPE) && !s.name.isEmpty && !(s.binding == UInt8(STB_LOCAL) && s.name.hasPrefix("LBB"))
        }
        for sym in elf.symbols where isFunctionStart(sym) && !sym.isUndefined {
            guard let sec = elf.section(at: sym.sectionIndex), sec.isExecutable, sec.type == UInt32(SHT_PROGBITS) else { continue }
            guard sec.size % 8 == 0 else {
                throw LoaderError(.open, file: elf.path, at: "section '\(sec.name)'", "code size \(sec.size) is not a multiple of 8 bytes (one instruction)")
            }
            guard sym.value % 8 == 0, sym.size % 8 == 0, sym.value <= UInt64(sec.size), sym.size <= UInt64(sec.size) - sym.value else {
                throw LoaderError(.open, file: elf.path, at: "function '\(sym.name)'",
                                  "\(sym.size) bytes at offset \(sym.value) do not fit whole instructions inside section '\(sec.name)' (\(sec.size) bytes)")
            }
            var count = Int(sym.size / 8)
            if count == 0 {
                // Hand-written assembly can leave sizes out: the function runs to the next one.
                let next = elf.symbols.filter { isFunctionStart($0) && $0.sectionIndex == sec.index && $0.value > sym.value }.map(\.value).min()
                count = Int(((next ?? UInt64(sec.size)) - sym.value) / 8)
            }
            guard count > 0 else { continue }
            let f = FunctionSpec(name: sym.name, sectionIndex: sec.index, sectionName: sec.name, start: Int(sym.value / 8),
                                 count: count, isProgram: sec.name != ".text")
            functions[f.key] = f
        }
        return functions
    }

    private static func classifyRelocations(_ elf: ELFFile, functions: [FunctionKey: FunctionSpec],
                                            mapSymbolIndex: [Int: Int], dataSectionMap: [Int: Int]) throws -> [CodeLocation: CodeRelocation] {
        var result: [CodeLocation: CodeRelocation] = [:]
        for (sectionIndex, relocs) in elf.relocations {
            guard let sec = elf.section(at: sectionIndex), sec.isExecutable else { continue }
            // SHT_NOBITS has a size but no bytes to decode instructions from.
            guard sec.data.count == sec.size else {
                throw LoaderError(.open, file: elf.path, at: "section '\(sec.name)'", "code section has relocations but no contents in the file (type \(sec.type))")
            }
            guard sec.size % 8 == 0 else {
                throw LoaderError(.open, file: elf.path, at: "section '\(sec.name)'", "code size \(sec.size) is not a multiple of 8 bytes (one instruction)")
            }
            let insnCount = sec.size / 8
            for rel in relocs {
                let where_ = "section '\(sec.name)', relocation at offset \(rel.offset)"
                guard rel.offset % 8 == 0, rel.offset / 8 < UInt64(insnCount) else {
                    throw LoaderError(.open, file: elf.path, at: where_, "offset is not an instruction of the section (\(insnCount) instructions)")
                }
                let idx = Int(rel.offset / 8)
                let insn = Instruction.decode(sec.data[idx * 8..<idx * 8 + 8])[0]
                let sym = elf.symbols[rel.symbol]
                let at = CodeLocation(section: sectionIndex, instruction: idx)
                let describe = "instruction \(idx) of section '\(sec.name)' (symbol '\(sym.name)')"
                if sym.isUndefined {
                    guard !sym.name.isEmpty else {
                        throw LoaderError(.open, file: elf.path, at: describe, "relocation against an undefined, unnamed symbol")
                    }
                    result[at] = .external(name: sym.name)
                    continue
                }
                guard let target = elf.section(at: sym.sectionIndex) else {
                    throw LoaderError(.open, file: elf.path, at: describe, "symbol's section \(sym.sectionIndex) does not exist")
                }
                if insn.isCall {
                    guard insn.src == Instruction.pseudoCall, target.isExecutable else {
                        throw LoaderError(.open, file: elf.path, at: describe, "relocated call does not call a BPF function")
                    }
                    let byteTarget = Int64(sym.value) + (Int64(insn.immediate) + 1) * 8
                    result[at] = .call(try functionStart(byteTarget, in: target, functions: functions, elf: elf, describe: describe))
                    continue
                }
                guard insn.isLoadImm64, idx + 1 < insnCount else {
                    throw LoaderError(.open, file: elf.path, at: describe, "relocation on an instruction that is neither a call nor a 64-bit load (opcode 0x\(String(insn.opcode, radix: 16)))")
                }
                if target.isExecutable {
                    guard insn.immediate % 8 == 0 else {
                        throw LoaderError(.open, file: elf.path, at: describe, "function address is not instruction-aligned")
                    }
                    let byteTarget = Int64(sym.value) + Int64(insn.immediate)
                    result[at] = .functionAddress(try functionStart(byteTarget, in: target, functions: functions, elf: elf, describe: describe))
                } else if let map = mapSymbolIndex[sym.index] {
                    result[at] = .mapFD(map: map)
                } else if let map = dataSectionMap[target.index] {
                    let offset = Int64(sym.isSection ? 0 : sym.value) + Int64(insn.immediate)
                    guard offset >= 0, offset < Int64(max(target.size, 1)) else {
                        throw LoaderError(.open, file: elf.path, at: describe, "offset \(offset) is outside section '\(target.name)' (\(target.size) bytes)")
                    }
                    result[at] = .mapValue(map: map, offset: offset)
                } else if target.name == "maps" || target.name == ".maps" {
                    // clang refers to a `static` map through the section symbol (offset in the
                    // instruction); such a map has no global symbol to bind it by, so say so.
                    let offset = Int64(sym.value) + (sym.isSection ? Int64(insn.immediate) : 0)
                    throw LoaderError(.open, file: elf.path, at: describe,
                                      sym.isSection ? "refers to '\(target.name)' at offset \(offset) through the section symbol, not a map's symbol: the map is probably declared static"
                                                    : "refers to '\(target.name)' at offset \(offset), where no map is defined",
                                      hint: sym.isSection ? "declare the map without 'static' so it has a symbol" : nil)
                } else {
                    throw LoaderError(.open, file: elf.path, at: describe, "refers to section '\(target.name)', which is neither a map, global data nor code")
                }
            }
        }
        return result
    }

    private static func functionStart(_ byteOffset: Int64, in section: ELFSection, functions: [FunctionKey: FunctionSpec],
                                      elf: ELFFile, describe: String) throws -> CodeLocation {
        guard byteOffset >= 0, byteOffset % 8 == 0, byteOffset < Int64(section.size) else {
            throw LoaderError(.open, file: elf.path, at: describe, "call target \(byteOffset) is outside section '\(section.name)'")
        }
        return CodeLocation(section: section.index, instruction: Int(byteOffset / 8))
    }
}

/// The largest `.kconfig` map bpfpipe builds (a real one holds a few hundred bytes).
let maxKconfigSize = 1 << 20

extension ObjectSpec {
    /// The function whose code contains `location`.
    func function(containing location: CodeLocation) -> FunctionSpec? {
        if let f = functions[FunctionKey(section: location.section, start: location.instruction)] { return f }
        return functions.values.first { $0.sectionIndex == location.section && $0.start <= location.instruction && location.instruction < $0.end }
    }

    /// Instructions of a function as they are in the file.
    func instructions(of f: FunctionSpec) -> [Instruction] {
        let data = elf.sections[f.sectionIndex].data
        return Instruction.decode(data[f.start * 8..<f.end * 8])
    }
}
