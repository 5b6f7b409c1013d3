/// A read-only view of a BTF blob that decodes type records on demand. The kernel's vmlinux BTF
/// has well over 100,000 types; `BTF` would build a `String` and an array per type, while CO-RE
/// only ever looks at a few hundred of them. So this keeps the raw bytes and one offset per type,
/// and a name index of the types a relocation can start from.
///
/// A table may be split BTF (a kernel module's): its ids continue after its base's, and its string
/// offsets continue after the base's string section (`btf__parse_split`).
final class BTFTable: Sendable {
    let bytes: [UInt8]
    /// Where this table's records start inside `bytes`, indexed by `id - firstID`.
    private let offsets: [UInt32]
    private let stringsRange: Range<Int>
    let base: BTFTable?
    /// The first type id this table defines: 1, or the base's type count for split BTF.
    let firstID: UInt32
    /// A name for messages: "vmlinux", a module name, or a file.
    let label: String
    /// (hash of the essential name, id) of this table's named types, sorted: one array instead of
    /// a `String` and an array per name, which was most of parsing vmlinux's 126,000 types.
    /// Lookups verify the name, so a hash collision costs a comparison, never a wrong answer.
    private let nameIndex: [(hash: UInt64, id: UInt32)]

    /// Parses `bytes`; the records are checked to lie inside the type section, the rest is read
    /// lazily and defensively (an out-of-range id or string offset reads as nothing).
    init(bytes: [UInt8], label: String, base: BTFTable? = nil) throws {
        func fail(_ message: String) -> LoaderError { LoaderError(.relocate, file: label, at: "BTF", message) }
        guard bytes.count >= BTF.headerSize else { throw fail("truncated header (\(bytes.count) bytes)") }
        let magic = UInt16(bytes[0]) | UInt16(bytes[1]) << 8
        guard magic == BTF.magic, bytes[2] == 1 else { throw fail("not little-endian BTF version 1") }
        let header = bytes.withUnsafeBytes { raw in (0..<6).map { Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 + 4 * $0, as: UInt32.self))) } }
        let (hdrLen, typeOff, typeLen, strOff, strLen) = (header[0], header[1], header[2], header[3], header[4])
        let typeStart = hdrLen + typeOff, strStart = hdrLen + strOff
        guard hdrLen >= BTF.headerSize, typeStart + typeLen <= bytes.count, strStart + strLen <= bytes.count else {
            throw fail("section offsets run past the end of the \(bytes.count)-byte blob")
        }
        self.bytes = bytes
        self.stringsRange = strStart..<(strStart + strLen)
        self.base = base
        self.firstID = base?.typeCount ?? 1
        self.label = label
        let offsets = try BTFTable.recordOffsets(bytes, typeStart..<(typeStart + typeLen), fail: fail)
        self.offsets = offsets
        self.nameIndex = BTFTable.nameIndex(bytes, offsets, strings: stringsRange, base: base)
    }

    /// One past the highest id, counting the base's types and void.
    var typeCount: UInt32 { firstID + UInt32(offsets.count) }

    /// The string section's length; split BTF's offsets start counting after it.
    private var stringsLength: UInt32 { UInt32(stringsRange.count) + (base?.stringsLength ?? 0) }

    /// Walks the records once, storing where each starts. Payload sizes by kind follow the kernel's
    /// `btf_type_size`; nothing is decoded beyond the 12-byte header.
    private static func recordOffsets(_ bytes: [UInt8], _ range: Range<Int>, fail: (String) -> LoaderError) throws -> [UInt32] {
        var offsets: [UInt32] = []
        offsets.reserveCapacity(range.count / 24)
        try bytes.withUnsafeBytes { raw in
            var at = range.lowerBound
            while at < range.upperBound {
                guard at + 12 <= range.upperBound else { throw fail("type [\(offsets.count + 1)]: truncated record") }
                let info = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at + 4, as: UInt32.self))
                let vlen = Int(info & 0xffff)
                guard let kind = BTFKind(rawValue: UInt8((info >> 24) & 0x1f)), kind != .void else {
                    throw fail("type [\(offsets.count + 1)]: unknown kind \((info >> 24) & 0x1f)")
                }
                offsets.append(UInt32(at))
                at += 12 + payloadSize(kind, vlen: vlen)
            }
            guard at == range.upperBound else { throw fail("type [\(offsets.count)]: record runs past the type section") }
        }
        return offsets
    }

    static func payloadSize(_ kind: BTFKind, vlen: Int) -> Int {
        switch kind {
        case .int, .var, .declTag: 4
        case .array: 12
        case .struct, .union, .datasec, .enum64: 12 * vlen
        case .enum, .funcProto: 8 * vlen
        default: 0
        }
    }

    /// Only types a CO-RE relocation can be rooted at are indexed; functions and variables, which
    /// are most of vmlinux's named types, never are. Runs before `self` exists, hence static.
    private static func nameIndex(_ bytes: [UInt8], _ offsets: [UInt32], strings: Range<Int>, base: BTFTable?) -> [(hash: UInt64, id: UInt32)] {
        var index: [(hash: UInt64, id: UInt32)] = []
        index.reserveCapacity(offsets.count / 2)
        let firstID = base?.typeCount ?? 1
        bytes.withUnsafeBytes { raw in
            for (i, at) in offsets.enumerated() {
                let nameOffset = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: Int(at), as: UInt32.self))
                let info = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: Int(at) + 4, as: UInt32.self))
                guard nameOffset != 0, let kind = BTFKind(rawValue: UInt8((info >> 24) & 0x1f)) else { continue }
                switch kind {
                case .struct, .union, .enum, .enum64, .fwd, .typedef, .int, .float:
                    let name = essential(string(nameOffset, bytes: bytes, strings: strings, base: base))
                    guard !name.isEmpty else { continue }
                    index.append((hash(name), firstID + UInt32(i)))
                default: continue
                }
            }
        }
        // Stable on ids within one hash, so ids come back in table order as before.
        index.sort { ($0.hash, $0.id) < ($1.hash, $1.id) }
        return index
    }

    /// FNV-1a, 64 bits.
    private static func hash(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf29ce484222325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        return h
    }

    /// Ids of this table's own types (not its base's) whose essential name is `name`.
    func types(essentiallyNamed name: String) -> [UInt32] {
        let wanted = Array(name.utf8)
        let key = BTFTable.hash(wanted)
        var low = 0, high = nameIndex.count
        while low < high {
            let mid = (low + high) / 2
            if nameIndex[mid].hash < key { low = mid + 1 } else { high = mid }
        }
        var ids: [UInt32] = []
        while low < nameIndex.count, nameIndex[low].hash == key {
            let id = nameIndex[low].id
            if let record = self[id], BTFTable.essential(self.name(record.nameOffset)).elementsEqual(wanted) { ids.append(id) }
            low += 1
        }
        return ids
    }

    // MARK: Reading

    func u32(at offset: Int) -> UInt32 {
        guard offset >= 0, offset + 4 <= bytes.count else { return 0 }
        return bytes.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
    }

    /// The type with this id, from this table or its base; nil for void and out-of-range ids.
    subscript(id: UInt32) -> BTFRecord? {
        if id < firstID { return base?[id] }
        let i = Int(id - firstID)
        guard i < offsets.count else { return nil }
        let at = Int(offsets[i])
        let info = u32(at: at + 4)
        return BTFRecord(table: self, id: id, at: at, kind: BTFKind(rawValue: UInt8((info >> 24) & 0x1f)) ?? .void,
                         nameOffset: u32(at: at), vlen: Int(info & 0xffff), kindFlag: info >> 31 == 1,
                         sizeOrType: u32(at: at + 8))
    }

    /// The bytes of the NUL-terminated string at `offset` (without the NUL); empty when out of range.
    func name(_ offset: UInt32) -> ArraySlice<UInt8> {
        BTFTable.string(offset, bytes: bytes, strings: stringsRange, base: base)
    }

    private static func string(_ offset: UInt32, bytes: [UInt8], strings: Range<Int>, base: BTFTable?) -> ArraySlice<UInt8> {
        if let base, offset < base.stringsLength { return base.name(offset) }
        let start = strings.lowerBound + Int(offset - (base?.stringsLength ?? 0))
        guard start < strings.upperBound else { return [] }
        var end = start
        while end < strings.upperBound && bytes[end] != 0 { end += 1 }
        return bytes[start..<end]
    }

    func nameString(_ offset: UInt32) -> String { String(decoding: name(offset), as: UTF8.self) }

    /// The name without a `___flavor` suffix (libbpf `bpf_core_essential_name_len`): the part before
    /// the last `___` that has a non-underscore on both sides.
    func essentialName(_ offset: UInt32) -> ArraySlice<UInt8> { BTFTable.essential(name(offset)) }

    static func essential(_ s: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        let u = UInt8(ascii: "_")
        var i = s.endIndex - 5
        while i >= s.startIndex {
            if s[i] != u, s[i + 1] == u, s[i + 2] == u, s[i + 3] == u, s[i + 4] != u { return s[s.startIndex...i] }
            i -= 1
        }
        return s
    }

    /// Follows typedefs and qualifiers; nil for void or a broken chain.
    func skipModifiers(_ id: UInt32) -> BTFRecord? {
        var current = id
        for _ in 0..<BTF.maxChainDepth {
            guard let t = self[current] else { return nil }
            guard t.kind.isModifier else { return t }
            current = t.sizeOrType
        }
        return nil
    }

    /// `btf__resolve_size`: nil for types without a size (void, functions, forward declarations).
    func size(of id: UInt32) -> Int? {
        var current = id, count = 1
        for _ in 0..<BTF.maxChainDepth {
            guard let t = self[current] else { return nil }
            switch t.kind {
            case .int, .enum, .enum64, .struct, .union, .datasec, .float: return count * Int(t.sizeOrType)
            case .ptr: return count * 8
            case .array:
                let a = t.array
                let (n, overflow) = count.multipliedReportingOverflow(by: Int(a.nelems))
                guard !overflow, n <= Int(UInt32.max) else { return nil }
                count = n
                current = a.elemType
            case .typedef, .volatile, .const, .restrict, .typeTag, .var: current = t.sizeOrType
            default: return nil
            }
        }
        return nil
    }
}

/// One decoded type header; members, enumerators and parameters are read from the table on request.
struct BTFRecord {
    let table: BTFTable
    let id: UInt32
    /// Where the record starts in `table.bytes`.
    let at: Int
    let kind: BTFKind
    let nameOffset: UInt32
    let vlen: Int
    let kindFlag: Bool
    let sizeOrType: UInt32

    var isComposite: Bool { kind == .struct || kind == .union }
    var isAnyEnum: Bool { kind == .enum || kind == .enum64 }

    /// `(name offset, type, bit offset, bitfield size)` of member `i`; the caller keeps `i < vlen`.
    func member(_ i: Int) -> (nameOffset: UInt32, type: UInt32, bitOffset: UInt32, bitfieldSize: UInt32) {
        let p = at + 12 + 12 * i
        let raw = table.u32(at: p + 8)
        return (table.u32(at: p), table.u32(at: p + 4), kindFlag ? raw & 0xff_ffff : raw, kindFlag ? raw >> 24 : 0)
    }

    var array: BTFArray { BTFArray(elemType: table.u32(at: at + 12), indexType: table.u32(at: at + 16), nelems: table.u32(at: at + 20)) }

    /// Enumerator `i` of an ENUM or ENUM64, its value sign-extended when the kind flag says signed.
    func enumerator(_ i: Int) -> (nameOffset: UInt32, value: UInt64) {
        if kind == .enum {
            let p = at + 12 + 8 * i
            let v = table.u32(at: p + 4)
            return (table.u32(at: p), kindFlag ? UInt64(bitPattern: Int64(Int32(bitPattern: v))) : UInt64(v))
        }
        let p = at + 12 + 12 * i
        return (table.u32(at: p), UInt64(table.u32(at: p + 8)) << 32 | UInt64(table.u32(at: p + 4)))
    }

    /// The type of FUNC_PROTO parameter `i`.
    func paramType(_ i: Int) -> UInt32 { table.u32(at: at + 12 + 8 * i + 4) }

    /// An INT's encoding bits (`BTF_INT_SIGNED` = 1) and bit offset.
    var intEncoding: UInt8 { UInt8((table.u32(at: at + 12) >> 24) & 0x0f) }
    var intBitOffset: UInt8 { UInt8((table.u32(at: at + 12) >> 16) & 0xff) }
}
