import CBPFSys

/// Global variables: each data section becomes a one-entry array map whose value is the section.
enum GlobalData {
    /// `.data`, `.rodata`, `.bss` and their `.name` variants (clang's `SEC(".data.foo")`).
    static func isDataSection(_ name: String) -> Bool {
        for base in [".data", ".rodata", ".bss"] where name == base || name.hasPrefix(base + ".") {
            return true
        }
        return false
    }

    /// The largest section that can become a map value. The kernel refuses array values above
    /// KMALLOC_MAX_SIZE (4 MiB on x86-64, 512 MiB at most, with arm64's 64 KiB pages); a `.bss`
    /// costs nothing in the file, so without a bound a crafted one makes `globals:` allocate
    /// gigabytes of zeros before the kernel could say no.
    static let maxSectionSize = 512 << 20

    static func isReadOnly(_ name: String) -> Bool { name == ".rodata" || name.hasPrefix(".rodata.") }

    /// Named as libbpf names them, so bpftool shows the same names for both loaders: the section
    /// name after up to 7 characters of the object's name (15 in all, the kernel's limit); a custom
    /// section such as `.data.foo` keeps its own name alone.
    static func mapName(objectName: String, section: String) -> String {
        let suffixLength = min(max(7, section.count), 15)
        let isCustom = section.dropFirst().contains(".")
        let prefixLength = isCustom ? 0 : min(15 - suffixLength, objectName.count)
        return sanitizedKernelName(String(objectName.prefix(prefixLength)) + String(section.prefix(suffixLength)))
    }

    static func definition(for section: ELFSection, objectName: String, btf: BTF?) -> MapDefinition {
        let readOnly = isReadOnly(section.name)
        var def = MapDefinition(
            name: mapName(objectName: objectName, section: section.name),
            type: BPF_MAP_TYPE_ARRAY.rawValue, keySize: 4, valueSize: UInt32(section.size), maxEntries: 1,
            flags: readOnly ? UInt32(BPF_F_RDONLY_PROG) : 0,
            origin: .globalData(section: section.name))
        def.initialData = section.isNoBits ? nil : section.data
        def.freezeAfterInit = readOnly
        if let sec = btf?.datasec(named: section.name) { def.btfValueTypeID = sec.id }
        return def
    }
}
