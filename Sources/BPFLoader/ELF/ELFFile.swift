import CLibelf

/// A section of a relocatable object, with its bytes copied out of libelf.
struct ELFSection: Sendable {
    var index: Int
    var name: String
    var type: UInt32
    var flags: UInt64
    var size: Int
    var link: Int
    var info: Int
    /// Empty for SHT_NOBITS (`.bss`), whose `size` still counts.
    var data: [UInt8]

    var isExecutable: Bool { flags & UInt64(SHF_EXECINSTR) != 0 }
    var isNoBits: Bool { type == UInt32(SHT_NOBITS) }
}

struct ELFSymbol: Sendable {
    var index: Int
    var name: String
    var value: UInt64
    var size: UInt64
    var type: UInt8
    var binding: UInt8
    var visibility: UInt8
    /// Raw st_shndx; `SHN_UNDEF` for externs, `SHN_ABS`/`SHN_COMMON` are kept as they are.
    var sectionIndex: Int

    var isFunction: Bool { type == UInt8(STT_FUNC) }
    var isSection: Bool { type == UInt8(STT_SECTION) }
    var isObject: Bool { type == UInt8(STT_OBJECT) }
    var isGlobal: Bool { binding == UInt8(STB_GLOBAL) || binding == UInt8(STB_WEAK) }
    var isUndefined: Bool { sectionIndex == Int(SHN_UNDEF) }
}

struct ELFRelocation: Sendable {
    var offset: UInt64
    var symbol: Int
    var type: UInt32
}

/// A BPF relocatable ELF object read through libelf. Every index and offset taken from the file is
/// checked against what the file actually holds before it is used.
struct ELFFile: Sendable {
    var path: String
    var sections: [ELFSection]
    var symbols: [ELFSymbol]
    /// Relocations keyed by the index of the section they apply to.
    var relocations: [Int: [ELFRelocation]]

    func section(named name: String) -> ELFSection? { sections.first { $0.name == name } }

    func section(at index: Int) -> ELFSection? {
        index > 0 && index < sections.count ? sections[index] : nil
    }

    static func read(path: String) throws -> ELFFile {
        let bytes = try FileBytes.read(path: path, step: .open)
        return try parse(bytes, path: path)
    }

    static func parse(_ bytes: [UInt8], path: String) throws -> ELFFile {
        func fail(_ message: String, hint: String? = nil) -> LoaderError {
            LoaderError(.open, file: path, message, hint: hint)
        }
        // Check the identification bytes ourselves: libelf would translate a big-endian file's
        // headers, but BPF instructions and BTF inside it would then be read the wrong way round.
        guard bytes.count >= 16, bytes[0] == 0x7f, bytes[1] == 0x45, bytes[2] == 0x4c, bytes[3] == 0x46 else {
            throw fail("not an ELF file")
        }
        guard bytes[4] == 2 else { throw fail("not a 64-bit ELF object (EI_CLASS \(bytes[4])); BPF objects are ELF64") }
        guard bytes[5] == 1 else {
            throw fail(bytes[5] == 2 ? "big-endian BPF object; this machine is little-endian" : "unknown ELF data encoding \(bytes[5])",
                       hint: bytes[5] == 2 ? "compile with -target bpfel (or -target bpf on a little-endian host)" : nil)
        }
        guard bytes.count >= 64 else { throw fail("truncated ELF header (\(bytes.count) bytes, need 64)") }

        _ = elf_version(UInt32(EV_CURRENT))
        var storage = bytes
        return try storage.withUnsafeMutableBytes { (raw) throws -> ELFFile in
            guard let elf = elf_memory(raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count) else {
                throw fail("libelf cannot read it: \(libelfError())")
            }
            defer { elf_end(elf) }
            var ehdr = GElf_Ehdr()
            guard gelf_getehdr(elf, &ehdr) != nil else { throw fail("bad ELF header: \(libelfError())") }
            guard ehdr.e_type == UInt16(ET_REL) else { throw fail("not a relocatable object (e_type \(ehdr.e_type)); pass the .o that clang -c produced") }
            guard ehdr.e_machine == UInt16(EM_BPF) else { throw fail("not a BPF object (e_machine \(ehdr.e_machine), expected EM_BPF 247)") }
            // Section headers must lie inside the file: libelf trusts e_shoff. Compared without
            // adding, so a huge e_shoff cannot overflow; entries must be Elf64_Shdr-sized, as the
            // reader below and libelf assume.
            let fileSize = UInt64(raw.count)
            func headersFit(_ count: UInt64) -> Bool {
                ehdr.e_shoff > 0 && ehdr.e_shoff <= fileSize && count <= (fileSize - ehdr.e_shoff) / 64
            }
            guard ehdr.e_shentsize == 64 else {
                throw fail("section header entry size \(ehdr.e_shentsize), expected 64 (Elf64_Shdr)")
            }
            guard headersFit(UInt64(ehdr.e_shnum)) else {
                throw fail("section header table (offset \(ehdr.e_shoff), \(ehdr.e_shnum) entries) lies outside the file of \(raw.count) bytes")
            }
            var sectionCount = 0
            guard elf_getshdrnum(elf, &sectionCount) == 0 else { throw fail("cannot count sections: \(libelfError())") }
            // e_shnum 0 means the count is in section 0's sh_size; check that one too.
            guard headersFit(UInt64(sectionCount)) else {
                throw fail("section header table (offset \(ehdr.e_shoff), \(sectionCount) entries) lies outside the file of \(raw.count) bytes")
            }
            var shstrndx = 0
            guard elf_getshdrstrndx(elf, &shstrndx) == 0 else { throw fail("no section name table: \(libelfError())") }

            var sections: [ELFSection] = [ELFSection(index: 0, name: "", type: 0, flags: 0, size: 0, link: 0, info: 0, data: [])]
            for index in 1..<max(sectionCount, 1) {
                guard let scn = elf_getscn(elf, index) else { throw fail("section \(index): \(libelfError())") }
                var shdr = GElf_Shdr()
                guard gelf_getshdr(scn, &shdr) != nil else { throw fail("section \(index): bad header: \(libelfError())") }
                guard let namePtr = elf_strptr(elf, shstrndx, Int(shdr.sh_name)) else {
                    throw fail("section \(index): name offset \(shdr.sh_name) is outside the section name table")
                }
                let name = String(cString: namePtr)
                var data: [UInt8] = []
                if shdr.sh_type != UInt32(SHT_NOBITS) && shdr.sh_size > 0 {
                    guard shdr.sh_offset <= UInt64(raw.count), shdr.sh_size <= UInt64(raw.count) - shdr.sh_offset else {
                        throw fail("section '\(name)': \(shdr.sh_size) bytes at offset \(shdr.sh_offset) run past the end of the file (\(raw.count) bytes)")
                    }
                    let start = Int(shdr.sh_offset)
                    data = Array(raw[start..<start + Int(shdr.sh_size)])
                }
                // SHT_NOBITS sizes are not bounded by the file: past Int.max the conversion below
                // traps, and a .bss becomes a map whose value size is a UInt32.
                guard shdr.sh_size <= UInt64(UInt32.max) || shdr.sh_size <= fileSize else {
                    throw fail("section '\(name)': size \(shdr.sh_size) is implausibly large")
                }
                // Said here, before symbols are checked against it: a short code section is the problem.
                if shdr.sh_flags & UInt64(SHF_EXECINSTR) != 0 && shdr.sh_size % 8 != 0 {
                    throw fail("section '\(name)': code size \(shdr.sh_size) is not a multiple of 8 bytes (one instruction)")
                }
                guard shdr.sh_link < UInt32(sectionCount) else {
                    throw fail("section '\(name)': sh_link \(shdr.sh_link) is not a section (the file has \(sectionCount))")
                }
                sections.append(ELFSection(index: index, name: name, type: shdr.sh_type, flags: shdr.sh_flags,
                                           size: Int(shdr.sh_size), link: Int(shdr.sh_link), info: Int(shdr.sh_info), data: data))
            }
            let symbols = try readSymbols(sections: sections, fail: fail)
            let relocations = try readRelocations(sections: sections, symbolCount: symbols.count, fail: fail)
            return ELFFile(path: path, sections: sections, symbols: symbols, relocations: relocations)
        }
    }

    private static func readSymbols(sections: [ELFSection], fail: (String, String?) -> LoaderError) throws -> [ELFSymbol] {
        let tables = sections.filter { $0.type == UInt32(SHT_SYMTAB) }
        guard tables.count == 1, let symtab = tables.first else {
            throw fail(tables.isEmpty ? "no symbol table (was the object stripped?)" : "more than one symbol table", nil)
        }
        guard symtab.link > 0, symtab.link < sections.count, sections[symtab.link].type == UInt32(SHT_STRTAB) else {
            throw fail("symbol table's string table (section \(symtab.link)) is not a string table", nil)
        }
        let strtab = sections[symtab.link].data
        let entrySize = 24
        guard symtab.data.count % entrySize == 0 else {
            throw fail("symbol table size \(symtab.data.count) is not a multiple of \(entrySize)", nil)
        }
        var reader = ByteReader(symtab.data)
        var symbols: [ELFSymbol] = []
        let count = symtab.data.count / entrySize
        symbols.reserveCapacity(count)
        for index in 0..<count {
            let nameOff = Int(reader.u32()!)
            let info = reader.u8()!
            let other = reader.u8()!
            let shndx = Int(reader.u16()!)
            let value = reader.u64()!
            let size = reader.u64()!
            guard let name = stringAt(strtab, nameOff) else {
                throw fail("symbol \(index): name offset \(nameOff) is outside the string table", nil)
            }
            if shndx != Int(SHN_UNDEF) && shndx < Int(SHN_LORESERVE) {
                guard shndx < sections.count else {
                    throw fail("symbol '\(name)': section index \(shndx) is out of range (the file has \(sections.count) sections)", nil)
                }
                // In a relocatable object st_value is an offset into the section: holding every
                // symbol inside its section here lets later steps add value and size freely.
                let sec = sections[shndx]
                guard value <= UInt64(sec.size), size <= UInt64(sec.size) - value else {
                    throw fail("symbol '\(name)': \(size) bytes at offset \(value) lie outside section '\(sec.name)' (\(sec.size) bytes)", nil)
                }
            }
            symbols.append(ELFSymbol(index: index, name: name, value: value, size: size, type: info & 0xf,
                                     binding: info >> 4, visibility: other & 0x3, sectionIndex: shndx))
        }
        return symbols
    }

    private static func readRelocations(sections: [ELFSection], symbolCount: Int, fail: (String, String?) -> LoaderError) throws -> [Int: [ELFRelocation]] {
        var result: [Int: [ELFRelocation]] = [:]
        for sec in sections where sec.type == UInt32(SHT_REL) {
            guard sec.info > 0, sec.info < sections.count else {
                throw fail("relocation section '\(sec.name)' applies to section \(sec.info), which does not exist", nil)
            }
            guard sec.data.count % 16 == 0 else {
                throw fail("relocation section '\(sec.name)' size \(sec.data.count) is not a multiple of 16", nil)
            }
            var reader = ByteReader(sec.data)
            var relocs: [ELFRelocation] = []
            while reader.remaining > 0 {
                let offset = reader.u64()!
                let info = reader.u64()!
                let sym = Int(info >> 32)
                guard sym < symbolCount else {
                    throw fail("relocation section '\(sec.name)' names symbol \(sym), but the symbol table has \(symbolCount)", nil)
                }
                relocs.append(ELFRelocation(offset: offset, symbol: sym, type: UInt32(truncatingIfNeeded: info)))
            }
            result[sec.info, default: []].append(contentsOf: relocs)
        }
        return result
    }
}

/// The NUL-terminated string at `offset`, or nil when the offset or the string runs off the table.
func stringAt(_ table: [UInt8], _ offset: Int) -> String? {
    guard offset >= 0, offset < table.count else { return offset == 0 && table.isEmpty ? "" : nil }
    guard let end = table[offset...].firstIndex(of: 0) else { return nil }
    return String(decoding: table[offset..<end], as: UTF8.self)
}

private func libelfError() -> String {
    guard let msg = elf_errmsg(-1) else { return "unknown libelf error" }
    return String(cString: msg)
}
