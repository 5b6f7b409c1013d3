/// The rules that decide whether a kernel type can stand for a local one, as libbpf's
/// `relo_core.c` defines them. Every walk is bounded, so a hostile object cannot make one spin.
enum COREMatch {
    /// How deep type walks recurse (through function prototypes, struct members).
    static let maxLevel = 32

    /// `btf_kind_core_compat`: the same kind, or any two enums (ENUM and ENUM64).
    static func kindsCompatible(_ a: BTFRecord, _ b: BTFRecord) -> Bool {
        a.kind == b.kind || (a.isAnyEnum && b.isAnyEnum)
    }

    /// Records and void alike, so that void-vs-void comparisons work.
    private static func skip(_ table: BTFTable, _ id: UInt32) -> (kind: BTFKind, record: BTFRecord?) {
        guard id != 0 else { return (.void, nil) }
        guard let r = table.skipModifiers(id) else { return (.void, nil) }
        return (r.kind, r)
    }

    private static func essentialNamesEqual(_ a: BTFTable, _ aName: UInt32, _ b: BTFTable, _ bName: UInt32) -> Bool {
        a.essentialName(aName) == b.essentialName(bName)
    }

    // MARK: Fields

    /// Whether a kernel member can be relocated to from a local one (`bpf_core_fields_are_compat`):
    /// any two structs/unions; pointers; floats; enums and forward declarations by essential name
    /// (or either anonymous); integers that are not old-style bitfield ints; arrays by element.
    static func fieldsAreCompatible(_ local: BTFTable, _ localID: UInt32, _ target: BTFTable, _ targetID: UInt32) throws(COREFailure) -> Bool {
        var (l, t) = (localID, targetID)
        for _ in 0..<maxLevel {
            guard let lt = local.skipModifiers(l), let tt = target.skipModifiers(t) else { throw COREFailure("field type is void or broken") }
            if lt.isComposite && tt.isComposite { return true }
            guard kindsCompatible(lt, tt) else { return false }
            switch lt.kind {
            case .ptr, .float: return true
            case .fwd, .enum, .enum64:
                let ln = local.essentialName(lt.nameOffset), tn = target.essentialName(tt.nameOffset)
                return ln.isEmpty || tn.isEmpty || ln == tn
            case .int: return lt.intBitOffset == 0 && tt.intBitOffset == 0
            case .array: (l, t) = (lt.array.elemType, tt.array.elemType)
            default: return false
            }
        }
        throw COREFailure("field types nest deeper than \(maxLevel)")
    }

    // MARK: Types

    /// `bpf_core_types_are_compat`, for TYPE_EXISTS, TYPE_SIZE and TYPE_ID_TARGET: kinds must agree
    /// under modifiers; aggregates and enums match by name alone (already checked by the candidate
    /// search); pointers and arrays by what they point at; function prototypes by every parameter.
    static func typesAreCompatible(_ local: BTFTable, _ localID: UInt32, _ target: BTFTable, _ targetID: UInt32, level: Int = maxLevel) throws(COREFailure) -> Bool {
        if let lt = local[localID], let tt = target[targetID], !kindsCompatible(lt, tt) { return false }
        var (l, t) = (localID, targetID)
        for _ in 0..<maxLevel {
            let (lk, lr) = skip(local, l), (tk, tr) = skip(target, t)
            if lk == .void || tk == .void { return lk == tk }
            guard let lt = lr, let tt = tr, kindsCompatible(lt, tt) else { return false }
            switch lt.kind {
            case .struct, .union, .enum, .enum64, .fwd: return true
            case .int: return lt.intBitOffset == 0 && tt.intBitOffset == 0
            case .ptr: (l, t) = (lt.sizeOrType, tt.sizeOrType)
            case .array: (l, t) = (lt.array.elemType, tt.array.elemType)
            case .funcProto:
                guard lt.vlen == tt.vlen else { return false }
                guard level > 0 else { throw COREFailure("function prototypes nest deeper than \(maxLevel)") }
                for i in 0..<lt.vlen where try !typesAreCompatible(local, lt.paramType(i), target, tt.paramType(i), level: level - 1) {
                    return false
                }
                (l, t) = (lt.sizeOrType, tt.sizeOrType)
            default: return false
            }
        }
        throw COREFailure("types nest deeper than \(maxLevel)")
    }

    /// `bpf_core_types_match`, for TYPE_MATCHES: stricter than compatibility. Names must match at
    /// every level; integers by size and signedness; arrays by length; enums by every local
    /// enumerator's name and by size; structs/unions by every local member (by name, recursively,
    /// or only by kind once behind a pointer, where a forward declaration also matches).
    static func typesMatch(_ local: BTFTable, _ localID: UInt32, _ target: BTFTable, _ targetID: UInt32,
                           behindPointer: Bool = false, level: Int = maxLevel) throws(COREFailure) -> Bool {
        guard level > 0 else { throw COREFailure("types nest deeper than \(maxLevel)") }
        var (l, t, behindPointer) = (localID, targetID, behindPointer)
        for _ in 0..<maxLevel {
            let (lk, lr) = skip(local, l), (tk, tr) = skip(target, t)
            guard let lt = lr, let tt = tr else { return lk == .void && tk == .void }
            guard namesMatch(local, lt.nameOffset, target, tt.nameOffset) else { return false }
            switch lt.kind {
            case .fwd:
                if tt.kind == .fwd { return lt.kindFlag == tt.kindFlag }
                return behindPointer && ((tt.kind == .struct && !lt.kindFlag) || (tt.kind == .union && lt.kindFlag))
            case .enum, .enum64:
                return tt.isAnyEnum && enumsMatch(local, lt, target, tt)
            case .struct, .union:
                if behindPointer { return lt.kind == tt.kind || (tt.kind == .fwd && (lt.kind == .union) == tt.kindFlag) }
                guard lt.kind == tt.kind else { return false }
                return try compositesMatch(local, lt, target, tt, level: level)
            case .int:
                return tt.kind == .int && lt.sizeOrType == tt.sizeOrType && (lt.intEncoding & 1) == (tt.intEncoding & 1)
            case .ptr:
                guard tt.kind == .ptr else { return false }
                (l, t, behindPointer) = (lt.sizeOrType, tt.sizeOrType, true)
            case .array:
                guard tt.kind == .array, lt.array.nelems == tt.array.nelems else { return false }
                (l, t) = (lt.array.elemType, tt.array.elemType)
            case .funcProto:
                guard tt.kind == .funcProto, lt.vlen == tt.vlen else { return false }
                for i in 0..<lt.vlen where try !typesMatch(local, lt.paramType(i), target, tt.paramType(i), behindPointer: behindPointer, level: level - 1) {
                    return false
                }
                (l, t) = (lt.sizeOrType, tt.sizeOrType)
            default: return false
            }
        }
        throw COREFailure("types nest deeper than \(maxLevel)")
    }

    /// `bpf_core_names_match`: an anonymous target matches only an anonymous local; otherwise the
    /// essential names must be equal.
    private static func namesMatch(_ local: BTFTable, _ localName: UInt32, _ target: BTFTable, _ targetName: UInt32) -> Bool {
        let tn = target.name(targetName)
        if tn.isEmpty { return local.name(localName).isEmpty }
        return essentialNamesEqual(local, localName, target, targetName)
    }

    private static func enumsMatch(_ local: BTFTable, _ lt: BTFRecord, _ target: BTFTable, _ tt: BTFRecord) -> Bool {
        guard lt.sizeOrType == tt.sizeOrType, lt.vlen <= tt.vlen else { return false }
        return (0..<lt.vlen).allSatisfy { i in
            let name = lt.enumerator(i).nameOffset
            return (0..<tt.vlen).contains { namesMatch(local, name, target, tt.enumerator($0).nameOffset) }
        }
    }

    private static func compositesMatch(_ local: BTFTable, _ lt: BTFRecord, _ target: BTFTable, _ tt: BTFRecord, level: Int) throws(COREFailure) -> Bool {
        guard lt.vlen <= tt.vlen else { return false }
        for i in 0..<lt.vlen {
            let lm = lt.member(i)
            var matched = false
            for j in 0..<tt.vlen {
                let tm = tt.member(j)
                guard namesMatch(local, lm.nameOffset, target, tm.nameOffset) else { continue }
                if try typesMatch(local, lm.type, target, tm.type, behindPointer: false, level: level - 1) {
                    matched = true
                    break
                }
            }
            if !matched { return false }
        }
        return true
    }
}
