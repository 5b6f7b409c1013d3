/// What one relocation resolves to (libbpf `bpf_core_relo_res`): the value the compiler wrote
/// (checked before patching) and the kernel's, or poison.
struct COREResult: Equatable {
    var original: UInt64 = 0
    var new: UInt64 = 0
    var poison = false
    /// Whether the instruction must hold `original` before patching; off where the compiler's
    /// value is only a guess (bitfields, type ids).
    var validate = true
    /// Load/store sizes for field offsets: the instruction's width changes when they differ.
    var originalSize = 0
    var newSize = 0
    /// The sizes differ in a way a narrower or wider load cannot fix (signed ints, structs).
    var sizeChangeUnsafe = false
}

/// A field, type or enumerator value of one spec; `nil` spec means "not found in the kernel".
private struct COREValue {
    var value: UInt64
    var memorySize = 0
    var memoryTypeID: UInt32 = 0
    var validate = true
}

/// Request to poison the instruction (libbpf's -EUCLEAN).
private struct COREPoison: Error {}

extension COREResult {
    /// Computes local and kernel values for one relocation (libbpf `bpf_core_calc_relo`).
    init(kind: CORERelocationKind, local: CORESpec, target: CORESpec?) throws(COREFailure) {
        do {
            let l = try COREResult.value(kind, local)
            let t = try COREResult.value(kind, target)
            original = l.value
            new = t.value
            validate = l.validate
            originalSize = l.memorySize
            newSize = t.memorySize
            if kind.isFieldBased, let target, originalSize != newSize {
                sizeChangeUnsafe = !COREResult.sizeChangeIsSafe(local.table, l.memoryTypeID, target.table, t.memoryTypeID)
            }
        } catch is COREPoison {
            self = COREResult(poison: true)
        } catch let e as COREFailure {
            throw e
        } catch {
            throw COREFailure("\(error)")
        }
    }

    /// A 64-bit load of a 32-bit kernel pointer, or an unsigned integer of another width, reads
    /// the same value once zero-extended; anything else read at another width is wrong.
    private static func sizeChangeIsSafe(_ lt: BTFTable, _ lid: UInt32, _ tt: BTFTable, _ tid: UInt32) -> Bool {
        guard let l = lt[lid], let t = tt[tid] else { return false }
        if l.kind == .ptr && t.kind == .ptr { return true }
        return l.kind == .int && t.kind == .int && l.intEncoding & 1 == 0 && t.intEncoding & 1 == 0
    }

    private static func value(_ kind: CORERelocationKind, _ spec: CORESpec?) throws -> COREValue {
        if kind.isFieldBased { return try fieldValue(kind, spec) }
        if kind.isEnumValueBased {
            if kind == .enumValueExists { return COREValue(value: spec == nil ? 0 : 1) }
            guard let spec, let a = spec.accessors.first, let t = spec.table[a.typeID] else { throw COREPoison() }
            return COREValue(value: t.enumerator(a.index).value)
        }
        // Type-based relocations resolve to 0 when the type is missing, never poison.
        guard let spec else { return COREValue(value: 0) }
        switch kind {
        case .typeIDTarget, .typeIDLocal:
            // Type ids change when objects are linked; the compiler's is no check.
            return COREValue(value: UInt64(spec.rootTypeID), validate: false)
        case .typeExists, .typeMatches:
            return COREValue(value: 1)
        default:
            guard let size = spec.table.size(of: spec.rootTypeID) else { throw COREFailure("type [\(spec.rootTypeID)] has no size") }
            return COREValue(value: UInt64(size))
        }
    }
}

extension COREResult {
    /// A field's offset, size, signedness or bitfield shifts (libbpf `bpf_core_calc_field_relo`).
    /// Bitfields are read with the smallest aligned load that covers them.
    private static func fieldValue(_ kind: CORERelocationKind, _ spec: CORESpec?) throws -> COREValue {
        if kind == .fieldExists { return COREValue(value: spec == nil ? 0 : 1) }
        guard let spec, let acc = spec.accessors.last else { throw COREPoison() }
        let table = spec.table
        guard acc.nameOffset != nil else { return try arrayElementValue(kind, spec, acc) }
        guard let owner = table[acc.typeID], let fieldType = table.skipModifiers(owner.member(acc.index).type) else {
            throw COREFailure("field type of \(spec.sourceDescription) is void")
        }
        let bitOffset = spec.bitOffset
        var bitSize = Int(owner.member(acc.index).bitfieldSize)
        let bitfield = bitSize > 0
        var byteSize: Int, byteOffset: Int
        if bitfield {
            byteSize = Int(fieldType.sizeOrType)
            guard byteSize > 0 else { throw COREFailure("bitfield \(spec.sourceDescription) has a zero-sized type") }
            byteOffset = bitOffset / 8 / byteSize * byteSize
            while bitOffset + bitSize - byteOffset * 8 > byteSize * 8 {
                guard byteSize < 8 else { throw COREFailure("bitfield \(spec.sourceDescription) cannot be read with one 64-bit load") }
                byteSize *= 2
                byteOffset = bitOffset / 8 / byteSize * byteSize
            }
        } else {
            guard let size = table.size(of: fieldType.id) else { throw COREFailure("field \(spec.sourceDescription) has no size") }
            byteSize = size
            byteOffset = bitOffset / 8
            bitSize = byteSize * 8
        }
        // Bitfield layouts are the compiler's guess; only signedness and the right shift are certain.
        var v = COREValue(value: 0, validate: !bitfield)
        switch kind {
        case .fieldByteOffset:
            v.value = UInt64(byteOffset)
            if !bitfield {
                v.memorySize = try elementSize(table, fieldType.id)
                v.memoryTypeID = fieldType.id
            }
        case .fieldByteSize:
            v.value = UInt64(byteSize)
        case .fieldSigned:
            let signed = (fieldType.isAnyEnum && fieldType.kindFlag) || (fieldType.kind == .int && fieldType.intEncoding & 1 != 0)
            v.value = signed ? 1 : 0
            v.validate = true
        case .fieldLShiftU64, .fieldRShiftU64:
            // Shifts must stay within a 64-bit register; BTF that says otherwise (a bitfield wider
            // than 64 bits, an offset outside the load) is broken, not a field to read.
            let shift = kind == .fieldLShiftU64 ? 64 - (bitOffset + bitSize - byteOffset * 8) : 64 - bitSize
            guard (0...64).contains(shift) else {
                throw COREFailure("bitfield \(spec.sourceDescription) (\(bitSize) bits at bit \(bitOffset)) does not fit a 64-bit load")
            }
            v.value = UInt64(shift)
            v.validate = kind == .fieldRShiftU64
        default:
            throw COREFailure("unexpected kind \(kind.shortName)")
        }
        return v
    }

    /// `a[n]` as the last step: only its offset and size make sense.
    private static func arrayElementValue(_ kind: CORERelocationKind, _ spec: CORESpec, _ acc: COREAccessor) throws -> COREValue {
        switch kind {
        case .fieldByteOffset:
            return COREValue(value: UInt64(spec.bitOffset / 8), memorySize: try elementSize(spec.table, acc.typeID), memoryTypeID: acc.typeID)
        case .fieldByteSize:
            guard let size = spec.table.size(of: acc.typeID) else { throw COREFailure("array element of \(spec.sourceDescription) has no size") }
            return COREValue(value: UInt64(size))
        default:
            throw COREFailure("\(kind.shortName) cannot be applied to an array element")
        }
    }

    /// The width a load of this field uses: for arrays, one element's.
    private static func elementSize(_ table: BTFTable, _ id: UInt32) throws -> Int {
        var t = table.skipModifiers(id)
        for _ in 0..<BTF.maxChainDepth where t?.kind == .array {
            t = table.skipModifiers(t!.array.elemType)
        }
        guard let t, let size = table.size(of: t.id) else { throw COREFailure("type [\(id)] has no size") }
        return size
    }
}
