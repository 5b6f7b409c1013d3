extension CORESpec {
    /// The same access made on a candidate kernel type (libbpf `bpf_core_spec_match`): nil when the
    /// candidate lacks a field, enumerator or index, or its types are not compatible.
    func matched(in target: BTFTable, candidate: UInt32) throws(COREFailure) -> CORESpec? {
        var spec = CORESpec(table: target, kind: kind, rootTypeID: candidate)
        if kind.isTypeBased {
            let ok = kind == .typeMatches
                ? try COREMatch.typesMatch(table, rootTypeID, target, candidate)
                : try COREMatch.typesAreCompatible(table, rootTypeID, target, candidate)
            return ok ? spec : nil
        }
        if kind.isEnumValueBased {
            guard let local = accessors.first?.nameOffset, let t = target.skipModifiers(candidate), t.isAnyEnum else { return nil }
            let want = table.essentialName(local)
            guard let i = (0..<t.vlen).first(where: { target.essentialName(t.enumerator($0).nameOffset) == want }) else { return nil }
            spec.accessors = [COREAccessor(typeID: t.id, index: i, nameOffset: t.enumerator(i).nameOffset)]
            spec.raw = [i]
            return spec
        }
        var id = candidate
        for (i, acc) in accessors.enumerated() {
            guard let t = target.skipModifiers(id) else { return nil }
            id = t.id
            if acc.nameOffset != nil {
                guard let next = try spec.matchMember(local: self, acc, in: t) else { return nil }
                id = next
                continue
            }
            if i > 0 {
                guard t.kind == .array else { return nil }
                let a = t.array
                guard spec.isFlexibleArray(a) || acc.index < a.nelems else { return nil }
                guard let elem = target.skipModifiers(a.elemType) else { return nil }
                id = elem.id
            }
            guard spec.raw.count < CORESpec.maxLength else { throw COREFailure("access nests deeper than \(CORESpec.maxLength)") }
            spec.accessors.append(COREAccessor(typeID: id, index: acc.index))
            spec.raw.append(acc.index)
            guard let size = target.size(of: id) else { throw COREFailure("kernel type [\(id)] has no size") }
            spec.bitOffset += acc.index * size * 8
        }
        return spec
    }

    /// Finds the member a local named accessor stands for in `t`, looking inside anonymous
    /// structs/unions too (libbpf `bpf_core_match_member`); returns the member's type.
    private mutating func matchMember(local: CORESpec, _ acc: COREAccessor, in t: BTFRecord) throws(COREFailure) -> UInt32? {
        guard t.isComposite, let owner = local.table[acc.typeID] else { return nil }
        let localMember = owner.member(acc.index)
        let localName = local.table.name(localMember.nameOffset)
        for i in 0..<t.vlen {
            let m = t.member(i)
            guard raw.count < CORESpec.maxLength else { throw COREFailure("access nests deeper than \(CORESpec.maxLength)") }
            bitOffset += Int(m.bitOffset)
            raw.append(i)
            let name = table.name(m.nameOffset)
            if name.isEmpty {
                if let inner = table.skipModifiers(m.type), let found = try matchMember(local: local, acc, in: inner) { return found }
            } else if name == localName {
                // A same-named member of an incompatible type ends the search at this level.
                guard try COREMatch.fieldsAreCompatible(local.table, localMember.type, table, m.type) else {
                    bitOffset -= Int(m.bitOffset)
                    raw.removeLast()
                    return nil
                }
                accessors.append(COREAccessor(typeID: t.id, index: i, nameOffset: m.nameOffset))
                return m.type
            }
            bitOffset -= Int(m.bitOffset)
            raw.removeLast()
        }
        return nil
    }
}
