/// Reads the legacy `maps` section: an array of fixed-size records, one per symbol in the section.
/// The shortest form is `struct bpf_map_def` (5 × u32); iproute2 and cilium objects append id,
/// pinning and inner-map fields, which is why the record size comes from the symbol count.
enum LegacyMaps {
    static let minimumRecordSize = 20

    static func parse(section: ELFSection, symbols: [ELFSymbol], path: String) throws -> [MapDefinition] {
        let mapSymbols = symbols.filter { $0.sectionIndex == section.index && !$0.isSection && !$0.name.isEmpty }
            .sorted { $0.value < $1.value }
        guard !mapSymbols.isEmpty else { return [] }
        guard section.size % mapSymbols.count == 0 else {
            throw LoaderError(.open, file: path, at: "section '\(section.name)'",
                              "\(section.size) bytes do not divide into \(mapSymbols.count) map records")
        }
        let recordSize = section.size / mapSymbols.count
        guard recordSize >= minimumRecordSize, recordSize % 4 == 0 else {
            throw LoaderError(.open, file: path, at: "section '\(section.name)'",
                              "map record size \(recordSize) is not a multiple of 4 of at least \(minimumRecordSize) bytes")
        }
        guard section.data.count == section.size else {
            throw LoaderError(.open, file: path, at: "section '\(section.name)'", "has no contents (SHT_NOBITS)")
        }
        var defs: [MapDefinition] = []
        var innerIndexes: [(outer: Int, innerID: UInt32)] = []
        var ids: [UInt32: Int] = [:]
        for sym in mapSymbols {
            guard sym.value % UInt64(recordSize) == 0, sym.value + UInt64(recordSize) <= UInt64(section.size) else {
                throw LoaderError(.open, file: path, at: "map '\(sym.name)'",
                                  "symbol offset \(sym.value) does not start a \(recordSize)-byte record inside section '\(section.name)'")
            }
            var r = ByteReader(section.data, at: Int(sym.value))
            var fields: [UInt32] = []
            for _ in 0..<(recordSize / 4) { fields.append(r.u32()!) }
            // Fields 0-4 are struct bpf_map_def; 5-8 are iproute2's, read only when the record is
            // long enough to be a struct bpf_elf_map (id and pinning at least). Any other field is
            // unknown here: refuse it unless it is zero, as libbpf 0.x and cilium/ebpf do, rather
            // than create a map that silently lacks what the object asked for.
            let understood = fields.count >= 7 ? 9 : 5
            if let unknown = fields.indices.first(where: { $0 >= understood && fields[$0] != 0 }) {
                throw LoaderError(.open, file: path, at: "map '\(sym.name)'",
                                  "\(recordSize)-byte record in section '\(section.name)' has an unrecognized, non-zero field at byte \(unknown * 4) (value \(fields[unknown])); only struct bpf_map_def (20 bytes) and iproute2's struct bpf_elf_map (36 bytes) are understood",
                                  hint: "the record size is the section size divided by the number of map symbols in it")
            }
            var def = MapDefinition(name: sym.name, type: fields[0], keySize: fields[1], valueSize: fields[2],
                                    maxEntries: fields[3], flags: fields[4], origin: .declared(section: section.name))
            // iproute2's struct bpf_elf_map: id, pinning (PIN_GLOBAL_NS = 2), inner_id, inner_idx.
            if fields.count >= 7 {
                ids[fields[5]] = defs.count
                if fields[6] == 2 { def.pinning = .byName }
            }
            if fields.count >= 8, fields[7] != 0 { innerIndexes.append((defs.count, fields[7])) }
            defs.append(def)
        }
        for (outer, innerID) in innerIndexes {
            guard let i = ids[innerID] else {
                throw LoaderError(.open, file: path, at: "map '\(defs[outer].name)'", "inner map id \(innerID) names no map in '\(section.name)'")
            }
            defs[outer].inner = .init(defs[i])
        }
        return defs
    }
}
