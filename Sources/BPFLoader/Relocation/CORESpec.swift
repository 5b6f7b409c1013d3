/// Why a CO-RE relocation cannot be resolved at all (as opposed to "not found", which poisons).
struct COREFailure: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

extension CORERelocationKind {
    var isFieldBased: Bool { rawValue <= CORERelocationKind.fieldRShiftU64.rawValue }
    var isTypeBased: Bool { [.typeIDLocal, .typeIDTarget, .typeExists, .typeSize, .typeMatches].contains(self) }
    var isEnumValueBased: Bool { self == .enumValueExists || self == .enumValueValue }

    /// libbpf's short names, as its logs print them.
    var shortName: String {
        switch self {
        case .fieldByteOffset: "byte_off"
        case .fieldByteSize: "byte_sz"
        case .fieldExists: "field_exists"
        case .fieldSigned: "signed"
        case .fieldLShiftU64: "lshift_u64"
        case .fieldRShiftU64: "rshift_u64"
        case .typeIDLocal: "local_type_id"
        case .typeIDTarget: "target_type_id"
        case .typeExists: "type_exists"
        case .typeSize: "type_size"
        case .enumValueExists: "enumval_exists"
        case .enumValueValue: "enumval_value"
        case .typeMatches: "type_matches"
        }
    }
}

/// One step of an access path that means something in the source: a named member (or, for enum
/// relocations, an enumerator), or an array index. Anonymous members only show in `CORESpec.raw`.
struct COREAccessor {
    var typeID: UInt32
    var index: Int
    /// The member's or enumerator's name; nil for an array index.
    var nameOffset: UInt32?
}

/// An access string resolved against one BTF (libbpf's `bpf_core_spec`): the high-level accessors,
/// the raw indexes, and the bit offset they add up to.
struct CORESpec {
    /// libbpf's `BPF_CORE_SPEC_MAX_LEN`: deeper nesting is refused.
    static let maxLength = 64

    let table: BTFTable
    let kind: CORERelocationKind
    var rootTypeID: UInt32
    var accessors: [COREAccessor] = []
    var raw: [Int] = []
    var bitOffset = 0

    init(table: BTFTable, kind: CORERelocationKind, rootTypeID: UInt32) {
        self.table = table
        self.kind = kind
        self.rootTypeID = rootTypeID
    }

    /// Parses the object's access string ("0:1:2") for the relocation's root type, checking every
    /// index against the local BTF (libbpf `bpf_core_parse_spec`).
    static func parse(_ table: BTFTable, typeID: UInt32, access: String, kind: CORERelocationKind) throws(COREFailure) -> CORESpec {
        var spec = CORESpec(table: table, kind: kind, rootTypeID: typeID)
        if kind.isTypeBased {
            guard access == "0" else { throw COREFailure("access string '\(access)' of a type relocation is not \"0\"") }
            return spec
        }
        let parts = access.split(separator: ":", omittingEmptySubsequences: false)
        guard !access.isEmpty, !access.hasPrefix(":"), parts.count <= maxLength else { throw COREFailure("malformed access string '\(access)'") }
        for part in parts {
            guard let n = Int(part), n >= 0 else { throw COREFailure("malformed access string '\(access)'") }
            spec.raw.append(n)
        }
        guard let root = table.skipModifiers(typeID) else { throw COREFailure("root type [\(typeID)] is void or broken") }
        spec.accessors = [COREAccessor(typeID: root.id, index: spec.raw[0])]
        if kind.isEnumValueBased {
            guard root.isAnyEnum, spec.raw.count == 1, spec.raw[0] < root.vlen else {
                throw COREFailure("access string '\(access)' does not name an enumerator of type [\(typeID)]")
            }
            spec.accessors[0].nameOffset = root.enumerator(spec.raw[0]).nameOffset
            return spec
        }
        guard let rootSize = table.size(of: root.id) else { throw COREFailure("root type [\(typeID)] has no size") }
        spec.bitOffset = spec.raw[0] * rootSize * 8
        var id = root.id
        for (i, index) in spec.raw.enumerated().dropFirst() {
            guard let t = table.skipModifiers(id) else { throw COREFailure("access string '\(access)' runs into void at step \(i)") }
            id = try spec.step(into: t, index: index)
        }
        return spec
    }

    /// One raw index of a local access string: into a struct/union member or an array element.
    /// Returns the type the next index applies to.
    private mutating func step(into t: BTFRecord, index: Int) throws(COREFailure) -> UInt32 {
        if t.isComposite {
            guard index < t.vlen else { throw COREFailure("member index \(index) is past the \(t.vlen) members of type [\(t.id)]") }
            let m = t.member(index)
            bitOffset += Int(m.bitOffset)
            if m.nameOffset != 0 {
                guard !table.name(m.nameOffset).isEmpty else { throw COREFailure("member \(index) of type [\(t.id)] has a bad name") }
                accessors.append(COREAccessor(typeID: t.id, index: index, nameOffset: m.nameOffset))
            }
            return m.type
        }
        guard t.kind == .array else { throw COREFailure("access string steps into \(t.kind) type [\(t.id)]") }
        let a = t.array
        guard let elem = table.skipModifiers(a.elemType) else { throw COREFailure("array [\(t.id)] has a void element type") }
        guard isFlexibleArray(a) || index < a.nelems else { throw COREFailure("index \(index) is past the \(a.nelems) elements of array [\(t.id)]") }
        accessors.append(COREAccessor(typeID: elem.id, index: index))
        guard let size = table.size(of: elem.id) else { throw COREFailure("array element type [\(elem.id)] has no size") }
        bitOffset += index * size * 8
        return elem.id
    }

    /// A zero-length array that is the last member of the struct the last accessor named (`int x[];`).
    func isFlexibleArray(_ a: BTFArray) -> Bool {
        guard let last = accessors.last, last.nameOffset != nil, a.nelems == 0, let t = table[last.typeID] else { return false }
        return last.index == t.vlen - 1
    }

    /// The access for people: `struct task_struct::pid`, `struct t::s[2]._1`, `enum e::ONE`.
    var sourceDescription: String {
        let root = table.typeName(rootTypeID)
        if kind.isTypeBased { return root }
        if kind.isEnumValueBased, let name = accessors.first?.nameOffset { return root + "::" + table.nameString(name) }
        var path = ""
        for (i, a) in accessors.enumerated() {
            if let name = a.nameOffset {
                path += (path.isEmpty ? "" : ".") + table.nameString(name)
            } else if i > 0 {
                path += "[\(a.index)]"
            }
        }
        let rootIndex = accessors.first.map { $0.index > 0 ? "[\($0.index)]" : "" } ?? ""
        return root + rootIndex + (path.isEmpty ? "" : "::" + path)
    }

    /// The raw indexes as the object spells them.
    var accessString: String { raw.map(String.init).joined(separator: ":") }
}

extension BTFTable {
    /// A C-like name for messages: `struct task_struct`, `enum e`, `s_t`.
    func typeName(_ id: UInt32, depth: Int = 0) -> String {
        guard depth < BTF.maxChainDepth else { return "?" }
        guard let t = self[id] else { return "void" }
        let name = t.nameOffset == 0 ? "(anon)" : nameString(t.nameOffset)
        switch t.kind {
        case .struct: return "struct " + name
        case .union: return "union " + name
        case .enum, .enum64: return "enum " + name
        case .fwd: return (t.kindFlag ? "union " : "struct ") + name
        case .ptr: return typeName(t.sizeOrType, depth: depth + 1) + " *"
        case .const, .volatile, .restrict, .typeTag:
            return (t.kind == .typeTag ? "" : t.kind.description.lowercased() + " ") + typeName(t.sizeOrType, depth: depth + 1)
        default: return name
        }
    }
}
