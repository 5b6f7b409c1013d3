/// Typed reads of a node; each throws a `PipelineError` at the node's mark saying what was
/// expected and what was found.
extension YAMLNode {
    /// Any non-null scalar, as written (`port: 8080` read as a string is "8080").
    public func string() throws -> String {
        guard let s = scalar, s.resolved != .null else { throw mismatch("a string") }
        return s.value
    }

    /// A decimal or `0x` hex integer, optionally negative, that fits in 64 bits.
    public func int() throws -> Int64 {
        guard let s = scalar, case .integer(let value) = s.resolved else {
            if let s = scalar, s.resolved == .float {
                throw mismatch("an integer", hint: "only whole numbers are accepted here")
            }
            throw mismatch("an integer", hint: quotedHint { if case .integer = $0 { true } else { false } })
        }
        guard let value else {
            throw PipelineError(at: mark, "integer \(s.value) does not fit in 64 bits")
        }
        let unsigned = s.value.drop(while: { $0 == "-" || $0 == "+" })
        if unsigned.count > 1, unsigned.first == "0", unsigned.dropFirst().first?.isNumber == true {
            throw PipelineError(
                at: mark, "integer \(s.value) has a leading zero",
                hint: "leading zeros are read as octal by some YAML tools; write \(value) or a 0x hex number")
        }
        return value
    }

    /// `true` or `false`, nothing else (`yes`, `on` and friends are refused, not guessed).
    public func bool() throws -> Bool {
        guard let s = scalar, case .bool(let value) = s.resolved else {
            let wordy = ["yes", "no", "on", "off", "y", "n", "True", "False", "TRUE", "FALSE"]
            if let s = scalar, s.style == .plain, wordy.contains(s.value) {
                throw mismatch("a boolean", hint: "write true or false")
            }
            throw mismatch("a boolean", hint: quotedHint { if case .bool = $0 { true } else { false } })
        }
        return value
    }

    /// The key/value pairs of a mapping, in the order written.
    public func mapping() throws -> [(key: YAMLNode, value: YAMLNode)] {
        guard case .mapping(let pairs) = content else { throw mismatch("a mapping") }
        return pairs
    }

    /// The items of a sequence (`[a, b]` or a `- ` list).
    public func sequence() throws -> [YAMLNode] {
        guard case .sequence(let items) = content else { throw mismatch("a list") }
        return items
    }

    /// For `"8080"` where a number was wanted: the quotes are what made it a string.
    private func quotedHint(_ wanted: (Scalar.Resolved) -> Bool) -> String? {
        guard var s = scalar, s.style != .plain, s.tag == nil else { return nil }
        s.style = .plain
        return wanted(s.resolved) ? "quoted values are strings; remove the quotes" : nil
    }

    /// "expected X, found Y" at this node.
    func mismatch(_ expected: String, hint: String? = nil) -> PipelineError {
        PipelineError(at: mark, "expected \(expected), found \(kindDescription)", hint: hint)
    }
}
