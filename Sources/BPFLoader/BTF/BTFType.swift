/// The kind of a BTF type, numbered as in the kernel's `BTF_KIND_*`; `void` is type id 0, which has
/// no record in the blob.
enum BTFKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case void = 0
    case int, ptr, array, `struct`, union, `enum`, fwd, typedef, volatile, const, restrict
    case `func`, funcProto, `var`, datasec, float, declTag, typeTag, enum64

    var description: String {
        switch self {
        case .void: "VOID"
        case .int: "INT"
        case .ptr: "PTR"
        case .array: "ARRAY"
        case .struct: "STRUCT"
        case .union: "UNION"
        case .enum: "ENUM"
        case .fwd: "FWD"
        case .typedef: "TYPEDEF"
        case .volatile: "VOLATILE"
        case .const: "CONST"
        case .restrict: "RESTRICT"
        case .func: "FUNC"
        case .funcProto: "FUNC_PROTO"
        case .var: "VAR"
        case .datasec: "DATASEC"
        case .float: "FLOAT"
        case .declTag: "DECL_TAG"
        case .typeTag: "TYPE_TAG"
        case .enum64: "ENUM64"
        }
    }

    /// Kinds whose `sizeOrType` is a type id that qualifies another type without changing its layout.
    var isModifier: Bool {
        switch self {
        case .typedef, .volatile, .const, .restrict, .typeTag: true
        default: false
        }
    }
}

/// `BTF_VAR_*` linkage values.
enum BTFVarLinkage {
    static let `static`: UInt32 = 0
    static let globalAllocated: UInt32 = 1
    static let globalExtern: UInt32 = 2
}

/// `BTF_FUNC_*` linkage values, stored in a FUNC's vlen.
enum BTFFuncLinkage {
    static let `static` = 0
    static let global = 1
    static let `extern` = 2
}

struct BTFArray: Sendable, Equatable {
    var elemType: UInt32
    var indexType: UInt32
    var nelems: UInt32
}

struct BTFMember: Sendable, Equatable {
    var name: String
    var type: UInt32
    /// In bits from the start of the struct.
    var offset: UInt32
    /// Zero unless the struct's kind_flag says members carry bitfield sizes.
    var bitfieldSize: UInt32
}

struct BTFEnumValue: Sendable, Equatable {
    var name: String
    var value: Int64
}

struct BTFParam: Sendable, Equatable {
    var name: String
    var nameOffset: UInt32
    var type: UInt32
}

struct BTFVarSecInfo: Sendable, Equatable {
    var type: UInt32
    var offset: UInt32
    var size: UInt32
    /// Where this record starts inside `BTF.raw`; its offset field is 4 bytes further on.
    var recordOffset: Int

    var offsetFieldOffset: Int { recordOffset + 4 }
}

/// What follows a type's common 12-byte header, by kind.
enum BTFPayload: Sendable, Equatable {
    case none
    case int(encoding: UInt8, bitOffset: UInt8, bits: UInt8)
    case array(BTFArray)
    case members([BTFMember])
    case enumValues([BTFEnumValue])
    case params([BTFParam])
    case variable(linkage: UInt32)
    case datasec([BTFVarSecInfo])
    case declTag(componentIndex: Int32)
}

/// One parsed BTF type. The raw record stays in `BTF.raw`; `recordOffset` says where, so fix-ups can
/// patch it in place.
struct BTFType: Sendable {
    var kind: BTFKind
    var name: String
    var nameOffset: UInt32
    var kindFlag: Bool
    var vlen: Int
    /// A size for INT, ENUM, ENUM64, STRUCT, UNION, DATASEC and FLOAT; a type id for the others.
    var sizeOrType: UInt32
    var payload: BTFPayload
    var recordOffset: Int

    static let void = BTFType(kind: .void, name: "", nameOffset: 0, kindFlag: false, vlen: 0,
                              sizeOrType: 0, payload: .none, recordOffset: -1)

    /// A DATASEC's size field, patched by the datasec fix-up.
    var sizeFieldOffset: Int { recordOffset + 8 }

    /// A FUNC keeps its linkage in vlen.
    var funcLinkage: Int { vlen }

    var members: [BTFMember] {
        if case .members(let m) = payload { return m }
        return []
    }

    var params: [BTFParam] {
        if case .params(let p) = payload { return p }
        return []
    }

    var enumValues: [BTFEnumValue] {
        if case .enumValues(let v) = payload { return v }
        return []
    }

    var array: BTFArray? {
        if case .array(let a) = payload { return a }
        return nil
    }

    var varLinkage: UInt32? {
        if case .variable(let l) = payload { return l }
        return nil
    }

    var datasecVars: [BTFVarSecInfo] {
        if case .datasec(let v) = payload { return v }
        return []
    }

    /// Every type id this type refers to, for the dangling-reference check.
    var referencedTypes: [UInt32] {
        switch payload {
        case .array(let a): return [a.elemType, a.indexType]
        case .members(let m): return m.map(\.type)
        case .params(let p): return [sizeOrType] + p.map(\.type)
        case .datasec(let v): return v.map(\.type)
        default:
            switch kind {
            case .ptr, .typedef, .volatile, .const, .restrict, .func, .var, .declTag, .typeTag: return [sizeOrType]
            default: return []
            }
        }
    }
}
