import CLibelf
#if canImport(Glibc)
import Glibc
#endif

/// Turns a function of an executable or shared object into the FILE offset the uprobe PMU wants:
/// the symbol's virtual address from `.symtab` or `.dynsym`, mapped through the PT_LOAD segment
/// that holds it (offset = vaddr - p_vaddr + p_offset), which is right for PIE executables,
/// fixed-address ones and shared libraries alike.
enum UprobeSymbols {
    enum Failure: Error, Equatable {
        case cannotOpen(Errno)
        case notELF(String)
        case noSymbol
        case notInSegment(UInt64)
    }

    static func fileOffset(of function: String, in binary: String) -> Result<UInt64, Failure> {
        let fd: Int32
        switch sysOpen(binary, O_RDONLY | O_CLOEXEC) {
        case .success(let f): fd = f
        case .failure(let e): return .failure(.cannotOpen(e))
        }
        defer { sysClose(fd) }
        _ = elf_version(UInt32(EV_CURRENT))
        guard let elf = elf_begin(fd, ELF_C_READ, nil) else { return .failure(.notELF(libelfMessage())) }
        defer { elf_end(elf) }
        guard elf_kind(elf) == ELF_K_ELF else { return .failure(.notELF("not an ELF file")) }
        guard let address = symbolAddress(function, elf) else { return .failure(.noSymbol) }
        return segmentOffset(address, elf)
    }

    /// The address of a defined function named `function`; a global definition wins over a local
    /// one of the same name, `.symtab` is read before `.dynsym` (stripped binaries have only the latter).
    private static func symbolAddress(_ function: String, _ elf: OpaquePointer) -> UInt64? {
        var local: UInt64? = nil
        for wanted in [UInt32(SHT_SYMTAB), UInt32(SHT_DYNSYM)] {
            var scn = elf_nextscn(elf, nil)
            while let section = scn {
                defer { scn = elf_nextscn(elf, section) }
                var shdr = GElf_Shdr()
                guard gelf_getshdr(section, &shdr) != nil, shdr.sh_type == wanted, shdr.sh_entsize > 0,
                      let data = elf_getdata(section, nil) else { continue }
                let count = Int(shdr.sh_size / shdr.sh_entsize)
                for i in 0..<count {
                    var sym = GElf_Sym()
                    guard gelf_getsym(data, Int32(i), &sym) != nil else { break }
                    let type = Int32(sym.st_info & 0xf)
                    guard type == STT_FUNC || type == STT_GNU_IFUNC, sym.st_shndx != UInt16(SHN_UNDEF), sym.st_value != 0,
                          let namePointer = elf_strptr(elf, Int(shdr.sh_link), Int(sym.st_name)) else { continue }
                    // .dynsym names may carry no version; .symtab ones may ("memcpy@@GLIBC_2.14").
                    let name = String(cString: namePointer)
                    guard name == function || name.hasPrefix(function + "@") else { continue }
                    if Int32(sym.st_info >> 4) == STB_LOCAL {
                        local = local ?? sym.st_value
                    } else {
                        return sym.st_value
                    }
                }
            }
        }
        return local
    }

    private static func segmentOffset(_ address: UInt64, _ elf: OpaquePointer) -> Result<UInt64, Failure> {
        var count = 0
        guard elf_getphdrnum(elf, &count) == 0 else { return .failure(.notELF("no program headers: \(libelfMessage())")) }
        for i in 0..<count {
            var phdr = GElf_Phdr()
            guard gelf_getphdr(elf, Int32(i), &phdr) != nil, phdr.p_type == UInt32(PT_LOAD) else { continue }
            if address >= phdr.p_vaddr && address - phdr.p_vaddr < phdr.p_filesz {
                return .success(address - phdr.p_vaddr + phdr.p_offset)
            }
        }
        return .failure(.notInSegment(address))
    }

    private static func libelfMessage() -> String {
        guard let msg = elf_errmsg(-1) else { return "unknown libelf error" }
        return String(cString: msg)
    }
}
