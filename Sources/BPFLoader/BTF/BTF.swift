/// The type information of a BPF object (its `.BTF` section) or of the kernel, parsed from the raw
/// little-endian blob. The raw bytes are kept next to the parsed types because the kernel wants the
/// blob itself, after the loader has patched a few fields in place.
struct BTF: Sendable {
    static let magic: UInt16 = 0xEB9F
    static let headerSize = 24
    /// Deeper modifier or array chains than this are treated as loops.
    static let maxChainDepth = 32

    var raw: [UInt8]
    /// Indexed by type id; `types[0]` is void.
    var types: [BTFType]
    /// A copy of the string table, which name offsets index.
    var strings: [UInt8]
    /// Where the type records lie inside `raw`.
    var typesRange: Range<Int>
    var path: String

    /// The blob to hand to `BPF_BTF_LOAD`.
    var rawBytes: [UInt8] { raw }

    /// Parses and checks a blob; a blob that lies about any offset, size or count throws rather than traps.
    init(bytes: [UInt8], path: String) throws {
        func fail(_ message: String) -> LoaderError { LoaderError(.open, file: path, at: "section '.BTF'", message) }
        var header = ByteReader(bytes)
        guard let magic = header.u16(), let version = header.u8(), header.u8() != nil,
              let hdrLen = header.u32(), let typeOff = header.u32(), let typeLen = header.u32(),
              let strOff = header.u32(), let strLen = header.u32() else {
            throw fail("truncated header (\(bytes.count) bytes, need \(Self.headerSize))")
        }
        guard magic == Self.magic else {
            throw fail(magic == Self.magic.byteSwapped ? "big-endian BTF; this loader reads little-endian only"
                                                       : "bad magic 0x\(String(magic, radix: 16)), expected 0xeb9f")
        }
        guard version == 1 else { throw fail("unsupported BTF version \(version), expected 1") }
        guard Int(hdrLen) >= Self.headerSize, Int(hdrLen) <= bytes.count else {
            throw fail("header length \(hdrLen) is outside 24...\(bytes.count)")
        }
        // Offsets count from the end of the header; Int arithmetic cannot overflow on u32 inputs.
        let typeStart = Int(hdrLen) + Int(typeOff), typeEnd = typeStart + Int(typeLen)
        let strStart = Int(hdrLen) + Int(strOff), strEnd = strStart + Int(strLen)
        guard typeEnd <= bytes.count else {
            throw fail("type section (\(typeLen) bytes at offset \(typeOff)) runs past the end of the \(bytes.count)-byte blob")
        }
        guard strEnd <= bytes.count else {
            throw fail("string section (\(strLen) bytes at offset \(strOff)) runs past the end of the \(bytes.count)-byte blob")
        }
        guard strLen == 0 || bytes[strEnd - 1] == 0 else { throw fail("string section does not end with a NUL") }

        raw = bytes
        self.path = path
        strings = Array(bytes[strStart..<strEnd])
        typesRange = typeStart..<typeEnd
        types = [.void]
        try parseTypes(fail: fail)
        try checkReferences(fail: fail)
    }

    private mutating func parseTypes(fail: (String) -> LoaderError) throws {
        var reader = ByteReader(Array(raw[0..<typesRange.upperBound]), at: typesRange.lowerBound)
        types.reserveCapacity(typesRange.count / 12 + 1)
        while reader.remaining > 0 {
            let id = types.count
            let start = reader.position
            guard let nameOff = reader.u32(), let info = reader.u32(), let sizeOrType = reader.u32() else {
                throw fail("type [\(id)]: record at byte \(start) is truncated")
            }
            let rawKind = UInt8((info >> 24) & 0x1f)
            guard let kind = BTFKind(rawValue: rawKind), kind != .void else {
                throw fail("type [\(id)]: unknown kind \(rawKind)")
            }
            guard let name = stringAt(strings, Int(nameOff)) else {
                throw fail("type [\(id)] (\(kind)): name offset \(nameOff) is outside the \(strings.count)-byte string table")
            }
            var type = BTFType(kind: kind, name: name, nameOffset: nameOff, kindFlag: info >> 31 == 1,
                               vlen: Int(info & 0xffff), sizeOrType: sizeOrType, payload: .none, recordOffset: start)
            var payloadReader = PayloadReader(reader: reader, strings: strings)
            do {
                type.payload = try payloadReader.read(for: type)
            } catch let message as PayloadError {
                throw fail("type [\(id)] (\(kind) '\(name)'): \(message.text)")
            }
            reader = payloadReader.reader
            types.append(type)
        }
    }

    /// The kernel refuses a blob whose types point at ids that do not exist; so do we, so that later
    /// lookups can trust every id they follow.
    private func checkReferences(fail: (String) -> LoaderError) throws {
        for (id, type) in types.enumerated() {
            for ref in type.referencedTypes where Int(ref) >= types.count {
                throw fail("type [\(id)] (\(type.kind) '\(type.name)'): refers to type [\(ref)], but the blob has \(types.count - 1) types")
            }
            for v in type.datasecVars where types[Int(v.type)].kind != .var && types[Int(v.type)].kind != .func {
                throw fail("type [\(id)] (DATASEC '\(type.name)'): entry [\(v.type)] is a \(types[Int(v.type)].kind), not a VAR")
            }
        }
    }

    /// The type with this id; nil past the last one.
    func type(_ id: UInt32) -> BTFType? {
        Int(id) < types.count ? types[Int(id)] : nil
    }

    /// The NUL-terminated string at `offset` in the string table (file names, line text, access strings).
    func string(at offset: UInt32) -> String? { stringAt(strings, Int(offset)) }

    /// Whether `string(at:)` would find a string, without making one (checked for every
    /// line_info record of an object).
    func hasString(at offset: UInt32) -> Bool {
        let o = Int(offset)
        guard o < strings.count else { return o == 0 && strings.isEmpty }
        return strings[o...].contains(0)
    }
}

private struct PayloadError: Error { var text: String }

/// Reads the kind-specific part of a type record, never reserving more than the bytes left can fill.
private struct PayloadReader {
    var reader: ByteReader
    let strings: [UInt8]

    mutating func read(for type: BTFType) throws -> BTFPayload {
        let vlen = type.vlen
        // STRUCT/UNION: members carry bitfield sizes; ENUM: values are signed.
        let flag = type.kindFlag
        switch type.kind {
        case .int:
            let v = try u32("encoding")
            return .int(encoding: UInt8((v >> 24) & 0x0f), bitOffset: UInt8((v >> 16) & 0xff), bits: UInt8(v & 0xff))
        case .array:
            return .array(BTFArray(elemType: try u32("element type"), indexType: try u32("index type"), nelems: try u32("element count")))
        case .struct, .union:
            return .members(try list(vlen, recordSize: 12, "member") { r, i in
                let name = try r.name("member \(i)")
                let type = try r.u32("member \(i) type")
                let offset = try r.u32("member \(i) offset")
                return BTFMember(name: name, type: type, offset: flag ? offset & 0xff_ffff : offset,
                                 bitfieldSize: flag ? offset >> 24 : 0)
            })
        case .enum:
            return .enumValues(try list(vlen, recordSize: 8, "enumerator") { r, i in
                let name = try r.name("enumerator \(i)")
                let v = try r.u32("enumerator \(i) value")
                // Unsigned values above Int32.max must stay positive.
                return BTFEnumValue(name: name, value: flag ? Int64(Int32(bitPattern: v)) : Int64(v))
            })
        case .enum64:
            return .enumValues(try list(vlen, recordSize: 12, "enumerator") { r, i in
                let name = try r.name("enumerator \(i)")
                let lo = try r.u32("enumerator \(i) value"), hi = try r.u32("enumerator \(i) value")
                return BTFEnumValue(name: name, value: Int64(bitPattern: UInt64(hi) << 32 | UInt64(lo)))
            })
        case .funcProto:
            return .params(try list(vlen, recordSize: 8, "parameter") { r, i in
                let offset = try r.u32("parameter \(i) name")
                guard let name = stringAt(r.strings, Int(offset)) else {
                    throw PayloadError(text: "parameter \(i): name offset \(offset) is outside the \(r.strings.count)-byte string table")
                }
                return BTFParam(name: name, nameOffset: offset, type: try r.u32("parameter \(i) type"))
            })
        case .var:
            return .variable(linkage: try u32("linkage"))
        case .datasec:
            return .datasec(try list(vlen, recordSize: 12, "variable") { r, i in
                let start = r.reader.position
                return BTFVarSecInfo(type: try r.u32("variable \(i) type"), offset: try r.u32("variable \(i) offset"),
                                     size: try r.u32("variable \(i) size"), recordOffset: start)
            })
        case .declTag:
            return .declTag(componentIndex: Int32(bitPattern: try u32("component index")))
        case .void, .ptr, .fwd, .typedef, .volatile, .const, .restrict, .func, .float, .typeTag:
            return .none
        }
    }

    init(reader: ByteReader, strings: [UInt8]) {
        self.reader = reader
        self.strings = strings
    }

    private mutating func list<T>(_ count: Int, recordSize: Int, _ what: String,
                                  _ element: (inout PayloadReader, Int) throws -> T) throws -> [T] {
        guard reader.remaining >= count * recordSize else {
            throw PayloadError(text: "\(count) \(what)s of \(recordSize) bytes run past the end of the type section")
        }
        var result: [T] = []
        result.reserveCapacity(count)
        for i in 0..<count { result.append(try element(&self, i)) }
        return result
    }

    mutating func u32(_ what: String) throws -> UInt32 {
        guard let v = reader.u32() else { throw PayloadError(text: "\(what) runs past the end of the type section") }
        return v
    }

    mutating func name(_ what: String) throws -> String {
        let offset = try u32("\(what) name")
        guard let name = stringAt(strings, Int(offset)) else {
            throw PayloadError(text: "\(what): name offset \(offset) is outside the \(strings.count)-byte string table")
        }
        return name
    }
}
