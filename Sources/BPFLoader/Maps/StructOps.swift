import CBPFSys

/// What one variable of `.struct_ops` or `.struct_ops.link` declares: an instance of a kernel ops
/// struct (e.g. `struct tcp_congestion_ops`) whose function pointers are programs of the object
/// and whose other members are plain data (`.name = "bpf_cubic"`, flags). libbpf:
/// `init_struct_ops_maps`, `bpf_object__collect_st_ops_relos`.
public struct StructOpsDefinition: Sendable, Equatable {
    /// The struct's name without `struct`, e.g. "tcp_congestion_ops".
    public var typeName: String
    /// The struct in the object's BTF.
    var localTypeID: UInt32
    /// The variable's initial bytes, laid out as the object's struct.
    var data: [UInt8]
    /// Which program fills which function-pointer member, by the member's index in the local struct.
    public var programs: [Int: String]
    /// How the kernel's struct lines up with the object's, filled in at relocation.
    var kernel: StructOpsKernelLayout?
}

/// Reading `.struct_ops` sections at open.
enum StructOps {
    /// `BPF_F_LINK`: the map is registered through a link, not by its update (the system header
    /// may predate it).
    static let linkFlag: UInt32 = 1 << 13

    static func isSection(_ name: String) -> Bool { name == ".struct_ops" || name == ".struct_ops.link" }

    /// One `BPF_MAP_TYPE_STRUCT_OPS` map per variable of the section. The value size is the local
    /// struct's until relocation replaces it with the kernel wrapper's.
    static func parse(section: ELFSection, elf: ELFFile, btf: BTF, path: String) throws -> [MapDefinition] {
        guard let datasec = btf.datasec(named: section.name) else {
            throw LoaderError(.open, file: path, at: "section '\(section.name)'", "the object's BTF has no DATASEC '\(section.name)'", hint: "compile with -g")
        }
        var defs: [MapDefinition] = []
        var starts: [UInt64] = []
        for v in datasec.vars {
            let (def, start) = try definition(variable: v.name, typeID: v.typeID, section: section, elf: elf, btf: btf, path: path)
            defs.append(def)
            starts.append(start)
        }
        for rel in elf.relocations[section.index] ?? [] {
            try assignProgram(rel, section: section, defs: &defs, starts: starts, elf: elf, btf: btf, path: path)
        }
        return defs
    }

    private static func definition(variable name: String, typeID: UInt32, section: ELFSection, elf: ELFFile, btf: BTF,
                                   path: String) throws -> (MapDefinition, UInt64) {
        let at = "struct_ops map '\(name)'"
        guard let variable = btf.type(typeID), variable.kind == .var else {
            throw LoaderError(.open, file: path, at: at, "DATASEC '\(section.name)' entry is not a variable")
        }
        let structID = btf.skipModifiers(variable.sizeOrType)
        guard let st = btf.type(structID), st.kind == .struct, !st.name.isEmpty else {
            throw LoaderError(.open, file: path, at: at, "a struct_ops variable must be a named struct, e.g. struct tcp_congestion_ops")
        }
        guard let sym = elf.symbols.first(where: { $0.sectionIndex == section.index && $0.name == name && !$0.isSection }) else {
            throw LoaderError(.open, file: path, at: at, "no symbol for this variable in section '\(section.name)'")
        }
        let size = try btf.size(of: structID)
        guard sym.value <= UInt64(section.size), UInt64(size) <= UInt64(section.size) - sym.value else {
            throw LoaderError(.open, file: path, at: at, "\(size) bytes at offset \(sym.value) do not fit in section '\(section.name)' (\(section.size) bytes)")
        }
        // A NOBITS section (all members zero) has no bytes in the file.
        let data = section.isNoBits ? [UInt8](repeating: 0, count: size) : Array(section.data[Int(sym.value)..<Int(sym.value) + size])
        var def = MapDefinition(name: name, type: BPF_MAP_TYPE_STRUCT_OPS.rawValue, keySize: 4, valueSize: UInt32(size), maxEntries: 1,
                                flags: section.name == ".struct_ops.link" ? linkFlag : 0, origin: .declared(section: section.name))
        def.structOps = StructOpsDefinition(typeName: st.name, localTypeID: structID, data: data, programs: [:])
        return (def, sym.value)
    }

    /// A relocation in the section puts a program's address into a function-pointer member.
    private static func assignProgram(_ rel: ELFRelocation, section: ELFSection, defs: inout [MapDefinition], starts: [UInt64],
                                      elf: ELFFile, btf: BTF, path: String) throws {
        let here = "section '\(section.name)', relocation at offset \(rel.offset)"
        guard let i = defs.indices.last(where: { starts[$0] <= rel.offset }), let ops = defs[i].structOps,
              rel.offset < starts[i] + UInt64(ops.data.count) else {
            throw LoaderError(.open, file: path, at: here, "does not fall inside any struct_ops variable")
        }
        let at = "struct_ops map '\(defs[i].name)'"
        let offsetBits = UInt32(rel.offset - starts[i]) * 8
        guard let st = btf.type(ops.localTypeID), let member = st.members.firstIndex(where: { $0.offset == offsetBits }),
              isFunctionPointer(st.members[member].type, btf) else {
            throw LoaderError(.open, file: path, at: at, "relocation at byte \(offsetBits / 8) is not on a function-pointer member of struct \(ops.typeName)")
        }
        guard rel.symbol < elf.symbols.count else {
            throw LoaderError(.open, file: path, at: here, "symbol \(rel.symbol) does not exist")
        }
        let program = try programName(elf.symbols[rel.symbol], addend: implicitAddend(section, rel), elf: elf, path: path, at: at)
        defs[i].structOps?.programs[member] = program
    }

    private static func isFunctionPointer(_ typeID: UInt32, _ btf: BTF) -> Bool {
        guard let ptr = btf.type(btf.skipModifiers(typeID)), ptr.kind == .ptr else { return false }
        return btf.type(btf.skipModifiers(ptr.sizeOrType))?.kind == .funcProto
    }

    /// REL relocations keep their addend in the bytes they patch (0 against a function's own symbol).
    private static func implicitAddend(_ section: ELFSection, _ rel: ELFRelocation) -> UInt64 {
        guard !section.isNoBits, rel.offset + 8 <= UInt64(section.data.count) else { return 0 }
        return section.data[Int(rel.offset)..<Int(rel.offset) + 8].reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// The program that starts where the symbol (plus addend) points; it must be a struct_ops one.
    private static func programName(_ sym: ELFSymbol, addend: UInt64, elf: ELFFile, path: String, at: String) throws -> String {
        guard let target = elf.section(at: sym.sectionIndex), target.isExecutable, target.name != ".text" else {
            throw LoaderError(.open, file: path, at: at, "function pointer refers to '\(sym.name)', which is not a program")
        }
        let start = sym.value &+ addend
        let prog = sym.isFunction && addend == 0 ? sym
            : elf.symbols.first { $0.isFunction && $0.sectionIndex == target.index && $0.value == start }
        guard let prog else {
            throw LoaderError(.open, file: path, at: at, "no program starts at offset \(start) of section '\(target.name)'")
        }
        let sectionName = target.name.hasPrefix("?") ? String(target.name.dropFirst()) : target.name
        guard SectionDefinitions.kind(forSection: sectionName)?.type == BPF_PROG_TYPE_STRUCT_OPS.rawValue else {
            throw LoaderError(.open, file: path, at: at, "program '\(prog.name)' (section '\(target.name)') is not a struct_ops program",
                              hint: "put it in a SEC(\"struct_ops/...\") section")
        }
        return prog.name
    }

    /// libbpf (1.4+) loads a struct_ops program only when a struct_ops map uses it: without the map
    /// it has no attach_btf_id and the kernel would refuse it.
    static func disablingUnusedPrograms(_ programs: [ProgramSpec], maps: [MapDefinition]) -> [ProgramSpec] {
        let used = Set(maps.flatMap { $0.structOps?.programs.values.map { $0 } ?? [] })
        return programs.map { p in
            var p = p
            if p.kind?.type == BPF_PROG_TYPE_STRUCT_OPS.rawValue && !used.contains(p.name) { p.autoload = false }
            return p
        }
    }
}
