/// The `test:` list of a program: smoke tests run with `BPF_PROG_TEST_RUN` before a deployment
/// goes live. What needs the object (map names, key and value sizes, files) is checked by
/// `TestStep.check` once the object is open.
extension PipelineDecoder {
    static let testKeys = ["instance", "data", "data-file", "data-size", "expect-return", "repeat", "expect-maps"]

    /// The tests of `program` (words for errors), which has `instances` instances.
    static func programTests(_ node: YAMLNode, program: String, instances: Int) throws -> [ProgramTest] {
        if node.isNull { return [] }
        let items = try MappingFields.naming("test") {
            do { return try node.sequence() } catch var e as PipelineError {
                e.hint = "write a list, one '- ' item per test, like '- { data-size: 64, expect-return: 0 }'"
                throw e
            }
        }
        return try items.enumerated().map { try programTest($1, index: $0, program: program, instances: instances) }
    }

    private static func programTest(_ node: YAMLNode, index: Int, program: String, instances: Int) throws -> ProgramTest {
        let what = "test \(index) of \(program)"
        let fields = try MappingFields(node, what: what, known: testKeys)

        var instance: Int?
        if let n = fields.optional("instance") {
            let value = try MappingFields.naming("instance") { try n.int() }
            guard value >= 0, value < Int64(instances) else {
                throw PipelineError(at: n.mark, "'instance' \(value) is out of range: \(program) has \(instances) instance(s) (0-\(instances - 1))",
                                    hint: "leave 'instance' out to test every instance")
            }
            instance = Int(value)
        }

        let inputKeys = ["data", "data-file", "data-size"].filter { fields.has($0) }
        guard let inputKey = inputKeys.first else {
            throw PipelineError(at: node.mark, "\(what) needs its input: 'data', 'data-file' or 'data-size'",
                                hint: "'data-size: 64' runs it on 64 zero bytes; 'data: \"45 00 ...\"' on bytes written in hex")
        }
        if inputKeys.count > 1 {
            let later = inputKeys.compactMap { fields.keyNode($0) }.max { ($0.mark.line, $0.mark.column) < ($1.mark.line, $1.mark.column) }!
            throw PipelineError(at: later.mark, "\(what) has \(inputKeys.map { "'\($0)'" }.joined(separator: " and ")); give exactly one input")
        }
        let inputNode = fields.optional(inputKey)!
        let input: ProgramTest.Input
        switch inputKey {
        case "data":
            let text = try MappingFields.naming("data") { try inputNode.string() }
            let bytes = try hexBytes(text, at: inputNode.mark, what: "'data'", prefix: .optional)
            guard !bytes.isEmpty else {
                throw PipelineError(at: inputNode.mark, "'data' is empty", hint: "write 'data-size: 0' to run without data")
            }
            guard bytes.count <= ProgramTest.maximumDataSize else {
                throw PipelineError(at: inputNode.mark, "'data' has \(bytes.count) bytes, more than \(ProgramTest.maximumDataSize)")
            }
            input = .bytes(bytes)
        case "data-file":
            let path = try MappingFields.naming("data-file") { try inputNode.string() }
            guard !path.isEmpty else { throw PipelineError(at: inputNode.mark, "'data-file' is empty") }
            input = .file(path)
        default:
            let size = try MappingFields.naming("data-size") { try inputNode.int() }
            guard size >= 0, size <= Int64(ProgramTest.maximumDataSize) else {
                throw PipelineError(at: inputNode.mark, "'data-size' must be between 0 and \(ProgramTest.maximumDataSize), found \(size)")
            }
            input = .zeros(Int(size))
        }

        var expectReturn: Int64?
        if let r = fields.optional("expect-return") {
            let value = try MappingFields.naming("expect-return") { try r.int() }
            guard value >= Int64(Int32.min), value <= Int64(UInt32.max) else {
                throw PipelineError(at: r.mark, "'expect-return' \(value) does not fit in 32 bits",
                                    hint: "the kernel reports a program's return value as 32 bits; write it between \(Int32.min) and \(UInt32.max)")
            }
            expectReturn = value
        }

        var repeatCount = 1
        if let r = fields.optional("repeat") {
            let value = try MappingFields.naming("repeat") { try r.int() }
            guard value >= 1, value <= Int64(ProgramTest.maximumRepeat) else {
                throw PipelineError(at: r.mark, "'repeat' must be between 1 and \(ProgramTest.maximumRepeat), found \(value)")
            }
            repeatCount = Int(value)
        }

        let expectMaps = try fields.optional("expect-maps").map(mapExpectations) ?? []
        guard expectReturn != nil || !expectMaps.isEmpty else {
            throw PipelineError(at: node.mark, "\(what) checks nothing: give 'expect-return', 'expect-maps' or both",
                                hint: "'expect-return: 0' checks the return value")
        }
        return ProgramTest(instance: instance, input: input, expectReturn: expectReturn, repeatCount: repeatCount,
                           expectMaps: expectMaps, mark: node.mark, inputMark: inputNode.mark,
                           instanceMark: fields.optional("instance")?.mark)
    }

    /// `expect-maps: { MAP: { "0xKEY": "0xVALUE", ... } }`.
    private static func mapExpectations(_ node: YAMLNode) throws -> [ProgramTest.MapExpectation] {
        let maps = try MappingFields.naming("expect-maps") { try node.mapping() }
        guard !maps.isEmpty else { throw PipelineError(at: node.mark, "'expect-maps' is empty") }
        return try maps.map { key, value in
            let map = try MappingFields.keyName(key)
            let pairs = try MappingFields.naming(map) { try value.mapping() }
            guard !pairs.isEmpty else {
                throw PipelineError(at: value.mark, "'\(map)' in 'expect-maps' lists no entries",
                                    hint: "write entries as { \"0xKEY\": \"0xVALUE\" }, bytes in memory order")
            }
            let entries = try pairs.map { k, v in
                let keyText = try MappingFields.keyName(k)
                let keyBytes = try hexBytes(keyText, at: k.mark, what: "key '\(keyText)' of map '\(map)'", prefix: .required)
                var valueBytes: [UInt8]?
                if !v.isNull {
                    let text = try MappingFields.naming("\(map)[\(keyText)]") { try v.string() }
                    valueBytes = try hexBytes(text, at: v.mark, what: "value '\(text)' of map '\(map)'", prefix: .required)
                }
                return ProgramTest.MapEntryExpectation(key: keyBytes, value: valueBytes, keyMark: k.mark, valueMark: v.mark)
            }
            return ProgramTest.MapExpectation(map: map, entries: entries, mark: key.mark)
        }
    }

    enum HexPrefix { case optional, required }

    /// Bytes written as hex digits, two per byte, in order; spaces between bytes are allowed.
    /// Map keys and values must start with `0x` so they are never read as numbers by mistake.
    static func hexBytes(_ text: String, at mark: SourceMark, what: String, prefix: HexPrefix) throws -> [UInt8] {
        var digits = Substring(text)
        let hasPrefix = digits.hasPrefix("0x") || digits.hasPrefix("0X")
        if hasPrefix { digits = digits.dropFirst(2) }
        guard hasPrefix || prefix == .optional else {
            throw PipelineError(at: mark, "\(what) must be hex bytes starting with 0x",
                                hint: "write bytes in memory order, like \"0x02000000\" for the 32-bit number 2 on little-endian")
        }
        var bytes: [UInt8] = []
        var high: UInt8?
        for (offset, c) in digits.enumerated() {
            if c == " " || c == "\t" {
                guard high == nil else {
                    throw PipelineError(at: mark, "\(what): a space splits a byte at character \(offset + 1 + (hasPrefix ? 2 : 0))",
                                        hint: "write two hex digits per byte")
                }
                continue
            }
            guard let v = c.hexDigitValue else {
                throw PipelineError(at: mark, "\(what): '\(c)' at character \(offset + 1 + (hasPrefix ? 2 : 0)) is not a hex digit")
            }
            if let h = high {
                bytes.append(h << 4 | UInt8(v))
                high = nil
            } else {
                high = UInt8(v)
            }
        }
        guard high == nil else {
            throw PipelineError(at: mark, "\(what) has an odd number of hex digits", hint: "write two hex digits per byte, like 0a for 10")
        }
        if prefix == .required && bytes.isEmpty { throw PipelineError(at: mark, "\(what) has no bytes after 0x") }
        return bytes
    }
}
