/// The keys of one schema mapping (an object, a program, ...): refuses keys the schema does not
/// know as soon as it is made, so a misspelt required key is reported as misspelt, not missing.
struct MappingFields {
    let node: YAMLNode
    /// How errors name this mapping: "object 'counters'", "the pipeline".
    let what: String
    private var entries: [String: (key: YAMLNode, value: YAMLNode)] = [:]

    init(_ node: YAMLNode, what: String, known: [String]) throws {
        self.node = node
        self.what = what
        guard case .mapping(let pairs) = node.content else {
            throw PipelineError(at: node.mark, "\(what): expected a mapping, found \(node.kindDescription)")
        }
        for (key, value) in pairs {
            let name = try Self.keyName(key)
            guard known.contains(name) else { throw Self.unknownKey(name, at: key.mark, in: what, known: known) }
            entries[name] = (key, value)
        }
    }

    /// A mapping key as text; keys are always plain names in pipeline files.
    static func keyName(_ key: YAMLNode) throws -> String {
        guard let s = key.scalar, s.resolved != .null, !s.value.isEmpty else {
            throw PipelineError(at: key.mark, "expected a name as the key, found \(key.kindDescription)")
        }
        return s.value
    }

    private static func unknownKey(_ name: String, at mark: SourceMark, in what: String, known: [String]) -> PipelineError {
        if name == "<<" {
            return PipelineError(at: mark, "merge keys ('<<') are not supported",
                                 hint: "write the keys out, or use an alias for the whole value")
        }
        if let ours = LibbpfWords.pipelineKey[name], known.contains(ours) {
            return PipelineError(at: mark, "unknown key '\(name)'; did you mean '\(ours)'?",
                                 hint: "'\(name)' is libbpf's word; a pipeline file writes '\(ours)'")
        }
        if let near = Suggestion.nearest(to: name, in: known) {
            return PipelineError(at: mark, "unknown key '\(name)'; did you mean '\(near)'?")
        }
        return PipelineError(at: mark, "unknown key '\(name)' in \(what)",
                             hint: "keys allowed here: \(known.joined(separator: ", "))")
    }

    func has(_ key: String) -> Bool { entries[key] != nil }

    /// The key's own node (for pointing at `build:` itself rather than its value).
    func keyNode(_ key: String) -> YAMLNode? { entries[key]?.key }

    func optional(_ key: String) -> YAMLNode? { entries[key]?.value }

    /// The value; a missing key is reported at this mapping's mark.
    func required(_ key: String, hint: String? = nil) throws -> YAMLNode {
        guard let value = entries[key]?.value else {
            throw PipelineError(at: node.mark, "missing required key '\(key)' in \(what)", hint: hint)
        }
        return value
    }

    /// Reads a key's value, naming the key in an error about the value's type.
    func read<T>(_ key: String, _ body: (YAMLNode) throws -> T) throws -> T? {
        guard let value = optional(key) else { return nil }
        return try Self.naming(key, { try body(value) })
    }

    /// Runs `body`, prefixing a type error from it with `'key': `.
    static func naming<T>(_ key: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch var error as PipelineError {
            error.message = "'\(key)': \(error.message)"
            throw error
        }
    }

    /// A list of strings (`cflags`, `include`, `plugin-path`); null counts as empty.
    func strings(_ key: String) throws -> [String] {
        try read(key) { node in
            if node.isNull { return [] }
            return try node.sequence().map { try $0.string() }
        } ?? []
    }

    /// The pairs of a mapping-valued key (`maps`, `globals`, `programs`); absent or null is empty.
    func pairs(_ key: String) throws -> [(key: YAMLNode, value: YAMLNode)] {
        guard let value = optional(key), !value.isNull else { return [] }
        return try Self.naming(key) { try value.mapping() }
    }
}
