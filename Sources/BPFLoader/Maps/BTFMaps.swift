import CBPFSys

/// Reads BTF-defined maps: each variable of the `.maps` DATASEC is an anonymous struct whose
/// members encode the definition (`__uint(name, N)` is `int (*name)[N]`, `__type(key, T)` is
/// `T *key`, `__array(values, T)` a flexible array of pointers whose initial entries come from
/// relocations against `.maps`).
enum BTFMaps {
    static func parse(section: ELFSection, elf: ELFFile, btf: BTF, path: String) throws -> [MapDefinition] {
        guard let datasec = btf.datasec(named: ".maps") else {
            throw LoaderError(.open, file: path, at: "section '.maps'", "the object's BTF has no DATASEC '.maps'", hint: "compile with -g")
        }
        var defs: [MapDefinition] = []
        var valuesStart: [String: (offset: Int, elementKind: BTFKind)] = [:]
        var symbolRange: [(name: String, start: UInt64, end: UInt64)] = []
        for v in datasec.vars {
            let at = "map '\(v.name)'"
            guard let variable = btf.type(v.typeID), variable.kind == .var else {
                throw LoaderError(.open, file: path, at: at, "DATASEC '.maps' entry is not a variable")
            }
            guard let sym = elf.symbols.first(where: { $0.sectionIndex == section.index && $0.name == v.name && !$0.isSection }) else {
                throw LoaderError(.open, file: path, at: at, "no symbol for this map in section '.maps'")
            }
            let structID = btf.skipModifiers(variable.sizeOrType)
            var parsed = try definition(named: v.name, structID: structID, btf: btf, path: path, at: at)
            if let values = parsed.valuesMember {
                valuesStart[v.name] = (Int(values.offset / 8), values.elementKind)
            }
            parsed.definition.origin = .declared(section: ".maps")
            defs.append(parsed.definition)
            // The symbol's size counts the initial `values`, which the struct type leaves out.
            let size = max(UInt64(try btf.size(of: structID)), sym.size)
            symbolRange.append((v.name, sym.value, sym.value + size))
        }
        // Initial values of map-in-maps and program arrays: relocations inside a map's `values`.
        for rel in elf.relocations[section.index] ?? [] {
            guard let owner = symbolRange.first(where: { rel.offset >= $0.start && rel.offset < $0.end }),
                  let values = valuesStart[owner.name], let i = defs.firstIndex(where: { $0.name == owner.name }) else {
                throw LoaderError(.open, file: path, at: "section '.maps', relocation at offset \(rel.offset)",
                                  "does not fall inside the 'values' of any map")
            }
            let within = Int(rel.offset - owner.start) - values.offset
            guard within >= 0, within % 8 == 0 else {
                throw LoaderError(.open, file: path, at: "map '\(owner.name)'", "initial value at byte \(within) is not a pointer slot")
            }
            let slot = within / 8
            let target = elf.symbols[rel.symbol]
            if target.isFunction {
                defs[i].slots[slot] = .program(target.name)
            } else {
                defs[i].slots[slot] = .map(target.name)
            }
            if slot >= Int(defs[i].maxEntries) {
                throw LoaderError(.open, file: path, at: "map '\(owner.name)'", "initial value in slot \(slot) is beyond max_entries \(defs[i].maxEntries)")
            }
        }
        try checkOnlyRelocatedBytesAreSet(section: section, relocations: elf.relocations[section.index] ?? [],
                                          symbolRange: symbolRange, path: path)
        return defs
    }

    /// A definition's bytes carry nothing the loader reads (the BTF type says it all), so a
    /// non-zero byte outside a relocated `values` slot (e.g. `.key = (void *)1`) would be silently
    /// dropped; refuse it, as cilium/ebpf does (its `invalid_btf_map_init` test object).
    private static func checkOnlyRelocatedBytesAreSet(section: ELFSection, relocations: [ELFRelocation],
                                                      symbolRange: [(name: String, start: UInt64, end: UInt64)], path: String) throws {
        guard section.data.count == section.size else { return }   // SHT_NOBITS: all zero
        let slots = relocations.map { $0.offset..<($0.offset + 8) }
        for map in symbolRange {
            let end = min(map.end, UInt64(section.data.count))
            guard map.start < end else { continue }
            for offset in map.start..<end where section.data[Int(offset)] != 0 && !slots.contains(where: { $0.contains(offset) }) {
                throw LoaderError(.open, file: path, at: "map '\(map.name)'",
                                  "its definition in '.maps' has a non-zero byte at offset \(offset - map.start); only 'values' can be initialized, with &map or &program",
                                  hint: "declare the map without an initializer, or initialize only .values")
            }
        }
    }

    private struct Parsed {
        var definition: MapDefinition
        var valuesMember: (offset: UInt32, elementKind: BTFKind)?
    }

    private static func definition(named name: String, structID: UInt32, btf: BTF, path: String, at: String) throws -> Parsed {
        func fail(_ m: String) -> LoaderError { LoaderError(.open, file: path, at: at, m) }
        guard let st = btf.type(structID), st.kind == .struct else {
            throw fail("a BTF map definition must be a struct")
        }
        var def = MapDefinition(name: name, type: 0, keySize: 0, valueSize: 0, maxEntries: 0, flags: 0, origin: .declared(section: ".maps"))
        var values: (offset: UInt32, elementKind: BTFKind)?
        for m in st.members {
            switch m.name {
            case "type": def.type = try uintValue(m, btf, fail)
            case "max_entries": def.maxEntries = try uintValue(m, btf, fail)
            case "map_flags": def.flags = try uintValue(m, btf, fail)
            case "numa_node": def.numaNode = try uintValue(m, btf, fail)
            case "key_size": def.keySize = try sizeValue(m, btf, fail, current: def.keySize)
            case "value_size": def.valueSize = try sizeValue(m, btf, fail, current: def.valueSize)
            case "map_extra": def.mapExtra = UInt64(try uintValue(m, btf, fail))
            case "pinning":
                switch try uintValue(m, btf, fail) {
                case 0: def.pinning = .none
                case 1: def.pinning = .byName
                case let v: throw fail("unknown pinning value \(v) (LIBBPF_PIN_NONE = 0, LIBBPF_PIN_BY_NAME = 1)")
                }
            case "key", "value":
                let (id, size) = try pointee(m, btf, fail)
                let size32 = UInt32(size)
                if m.name == "key" {
                    if def.keySize != 0 && def.keySize != size32 { throw fail("key_size \(def.keySize) conflicts with key type size \(size)") }
                    def.keySize = size32
                    def.btfKeyTypeID = id
                } else {
                    if def.valueSize != 0 && def.valueSize != size32 { throw fail("value_size \(def.valueSize) conflicts with value type size \(size)") }
                    def.valueSize = size32
                    def.btfValueTypeID = id
                }
            case "values":
                let arrID = btf.skipModifiers(m.type)
                guard let arr = btf.type(arrID)?.array, let ptr = btf.type(btf.skipModifiers(arr.elemType)), ptr.kind == .ptr else {
                    throw fail("'values' must be an array of pointers (__array(values, ...))")
                }
                let elementID = btf.skipModifiers(ptr.sizeOrType)
                guard let element = btf.type(elementID) else { throw fail("'values' element type \(elementID) does not exist") }
                values = (m.offset, element.kind)
                if element.kind == .struct {
                    let inner = try definition(named: name + ".inner", structID: elementID, btf: btf, path: path, at: at + " (inner map)")
                    def.inner = .init(inner.definition)
                } else if element.kind != .funcProto {
                    throw fail("'values' must point at a map definition (map-in-map) or a function prototype (program array)")
                }
                if def.valueSize == 0 { def.valueSize = 4 }
                if def.keySize == 0 { def.keySize = 4 }
            default:
                throw fail("unknown map definition field '\(m.name)'")
            }
        }
        if MapTypes.isMapInMap(def.type) || MapTypes.isProgramArray(def.type) {
            // Their values are fds: BTF value types describe the user-space view, not the kernel's.
            def.btfKeyTypeID = 0
            def.btfValueTypeID = 0
        }
        if def.type == 0 { throw fail("map definition has no 'type'") }
        return Parsed(definition: def, valuesMember: values)
    }

    /// `__uint(name, N)`: a pointer to an array of N elements.
    private static func uintValue(_ m: BTFMember, _ btf: BTF, _ fail: (String) -> LoaderError) throws -> UInt32 {
        guard let ptr = btf.type(btf.skipModifiers(m.type)), ptr.kind == .ptr,
              let arr = btf.type(btf.skipModifiers(ptr.sizeOrType))?.array else {
            throw fail("field '\(m.name)' must be declared with __uint(\(m.name), N)")
        }
        return arr.nelems
    }

    private static func sizeValue(_ m: BTFMember, _ btf: BTF, _ fail: (String) -> LoaderError, current: UInt32) throws -> UInt32 {
        let v = try uintValue(m, btf, fail)
        if current != 0 && current != v { throw fail("'\(m.name)' \(v) conflicts with the size of the declared type (\(current))") }
        return v
    }

    /// `__type(key, T)`: a pointer to T; returns T's id and size.
    private static func pointee(_ m: BTFMember, _ btf: BTF, _ fail: (String) -> LoaderError) throws -> (UInt32, Int) {
        guard let ptr = btf.type(btf.skipModifiers(m.type)), ptr.kind == .ptr else {
            throw fail("field '\(m.name)' must be declared with __type(\(m.name), T)")
        }
        return (ptr.sizeOrType, try btf.size(of: ptr.sizeOrType))
    }
}
