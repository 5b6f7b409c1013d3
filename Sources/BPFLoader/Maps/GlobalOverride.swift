/// A value for a global variable, written by a user (pipeline `globals:`, `set-global`).
public enum GlobalLiteral: Sendable, Equatable, CustomStringConvertible {
    case integer(Int64)
    case bool(Bool)
    case string(String)
    case list([GlobalLiteral])

    public var description: String {
        switch self {
        case .integer(let v): "\(v)"
        case .bool(let b): "\(b)"
        case .string(let s): "\"\(s)\""
        case .list(let l): "[" + l.map(\.description).joined(separator: ", ") + "]"
        }
    }
}

/// Why a value cannot be stored in a variable: no such variable, or a type mismatch.
public struct GlobalOverrideError: Error, CustomStringConvertible, Sendable {
    public var variable: String
    public var message: String
    public var description: String { "global '\(variable)': \(message)" }
}

extension ObjectSpec {
    /// Encodes `value` as the bytes of variable `name`, checked against its BTF type: integers
    /// must fit the variable's width and signedness, booleans go to `bool`/integers, strings to
    /// `char` arrays (NUL-padded), lists to arrays of integers.
    public func encodeGlobal(_ name: String, _ value: GlobalLiteral) throws -> (variable: GlobalVariable, bytes: [UInt8]) {
        guard let v = globalVariables.first(where: { $0.name == name }) else {
            let known = globalVariables.map(\.name)
            throw GlobalOverrideError(variable: name, message: "no such variable in .data, .rodata or .bss" + (known.isEmpty ? " (the object has none, or no BTF)" : "; the object has: \(known.joined(separator: ", "))"))
        }
        guard let btf else { throw GlobalOverrideError(variable: name, message: "the object has no BTF to check the value against") }
        let bytes = try encode(value, typeID: v.typeID, btf: btf, name: name)
        guard bytes.count == v.size else {
            throw GlobalOverrideError(variable: name, message: "value takes \(bytes.count) bytes, the variable has \(v.size)")
        }
        return (v, bytes)
    }

    /// Writes the override into the initial value of the variable's global-data map.
    public mutating func setGlobal(_ name: String, to value: GlobalLiteral) throws {
        let (v, bytes) = try encodeGlobal(name, value)
        guard let i = maps.firstIndex(where: { $0.origin == .globalData(section: v.section) }) else {
            throw GlobalOverrideError(variable: name, message: "section \(v.section) has no map")
        }
        var data = maps[i].initialData ?? [UInt8](repeating: 0, count: Int(maps[i].valueSize))
        data.replaceSubrange(v.offset..<v.offset + v.size, with: bytes)
        maps[i].initialData = data
    }

    private func encode(_ value: GlobalLiteral, typeID: UInt32, btf: BTF, name: String) throws -> [UInt8] {
        let id = btf.skipModifiers(typeID)
        guard let t = btf.type(id) else { throw GlobalOverrideError(variable: name, message: "type \(typeID) is missing from BTF") }
        func fail(_ m: String) -> GlobalOverrideError { GlobalOverrideError(variable: name, message: m) }
        switch (t.kind, value) {
        case (.int, .integer(let n)), (.enum, .integer(let n)), (.enum64, .integer(let n)):
            let size = Int(t.sizeOrType)
            var signed = true
            if case .int(let encoding, _, _) = t.payload { signed = encoding & 1 != 0 }
            if t.kind != .int { signed = t.kindFlag }
            guard size > 0 && size <= 8 else { throw fail("cannot set a \(size)-byte integer") }
            let bits = UInt64(size * 8)
            if bits < 64 {
                let fits = signed ? (n >= -(Int64(1) << (bits - 1)) && n < (Int64(1) << (bits - 1))) : (n >= 0 && n < (Int64(1) << bits))
                guard fits else { throw fail("\(n) does not fit in \(btf.typeName(typeID)) (\(signed ? "signed" : "unsigned") \(bits) bits)") }
            } else if !signed && n < 0 {
                throw fail("\(n) is negative, but \(btf.typeName(typeID)) is unsigned")
            }
            return (0..<size).map { UInt8(truncatingIfNeeded: UInt64(bitPattern: n) >> (8 * UInt64($0))) }
        case (.enum, .string(let s)), (.enum64, .string(let s)):
            guard let e = t.enumValues.first(where: { $0.name == s }) else {
                throw fail("'\(s)' is not a value of \(btf.typeName(typeID)) (\(t.enumValues.map(\.name).joined(separator: ", ")))")
            }
            return try encode(.integer(e.value), typeID: typeID, btf: btf, name: name)
        case (.int, .bool(let b)):
            return [b ? 1 : 0] + [UInt8](repeating: 0, count: max(0, Int(t.sizeOrType) - 1))
        case (.array, .string(let s)):
            guard let a = t.array, let elem = btf.type(btf.skipModifiers(a.elemType)), elem.kind == .int, elem.sizeOrType == 1 else {
                throw fail("a string needs a char array, the variable is \(btf.typeName(typeID))")
            }
            let utf8 = Array(s.utf8)
            guard utf8.count < Int(a.nelems) else { throw fail("\"\(s)\" needs \(utf8.count + 1) bytes with its NUL, the array has \(a.nelems)") }
            return utf8 + [UInt8](repeating: 0, count: Int(a.nelems) - utf8.count)
        case (.array, .list(let items)):
            guard let a = t.array else { throw fail("not an array") }
            guard items.count <= Int(a.nelems) else { throw fail("\(items.count) values for an array of \(a.nelems)") }
            var out: [UInt8] = []
            for item in items { out += try encode(item, typeID: a.elemType, btf: btf, name: name) }
            let elemSize = (try? btf.size(of: a.elemType)) ?? 0
            return out + [UInt8](repeating: 0, count: (Int(a.nelems) - items.count) * elemSize)
        default:
            throw fail("cannot store \(value) in a variable of type \(btf.typeName(typeID))")
        }
    }
}

extension BPFObject {
    /// The map holding a global-data section, once maps exist.
    public func globalDataMap(section: String) -> Map? {
        maps.first { $0.definition.origin == .globalData(section: section) }
    }

    /// A private copy of a global-data map with one variable set: what lets instance `n` of a
    /// program see its own value of a `.rodata`/`.data`/`.bss` variable. The copy is frozen like
    /// the original and lives as long as the object is loaded. With `base` (an earlier copy of
    /// the same section, made for the same instance) the copy starts from that copy's bytes, so
    /// two variables of one section can each be set per instance.
    public func instanceCopy(of variable: String, setTo value: GlobalLiteral, basedOn base: Map? = nil) throws -> (original: Map, copy: Map) {
        let (v, bytes) = try spec.encodeGlobal(variable, value)
        guard let original = globalDataMap(section: v.section) else {
            throw LoaderError(.preprocess, file: path, at: "global '\(variable)'", "the map for section \(v.section) has not been created")
        }
        if let base, base.definition.origin != original.definition.origin {
            throw LoaderError(.preprocess, file: path, at: "global '\(variable)'", "map '\(base.name)' is not a copy of section \(v.section)")
        }
        var def = (base ?? original).definition
        var data = def.initialData ?? [UInt8](repeating: 0, count: Int(def.valueSize))
        data.replaceSubrange(v.offset..<v.offset + v.size, with: bytes)
        def.initialData = data
        let creator = MapCreator(spec: spec, btfFD: btfFD, byNameDirectory: nil)
        let copy = Map(definition: def, fd: try creator.create(def))
        try creator.initialize(copy)
        instanceMaps.append(copy)
        return (original, copy)
    }

    /// The per-instance copy of a global-data map whose fd is `fd` (as code refers to it).
    public func instanceCopy(withFD fd: Int32) -> Map? {
        instanceMaps.first { $0.fd.rawValue == fd }
    }
}
