/// One node of a parsed YAML document, with the place it was written.
///
/// Aliases are already expanded: an alias is a copy of the anchored node (arrays share storage,
/// so the copy is cheap) whose own mark is the alias's place.
public struct YAMLNode: Sendable {
    /// How a scalar was written; only plain scalars are read as numbers, booleans or null.
    public enum ScalarStyle: Sendable, Equatable {
        case plain, singleQuoted, doubleQuoted, literal, folded
    }

    /// A scalar's text, exactly as libyaml unescaped it; typing it is left to the reader.
    public struct Scalar: Sendable, Equatable {
        public var value: String
        /// The resolved tag (`tag:yaml.org,2002:str` for `!!str`), nil when none was written.
        public var tag: String?
        public var style: ScalarStyle
    }

    /// What the node holds.
    public enum Content: Sendable {
        case scalar(Scalar)
        case sequence([YAMLNode])
        /// In the order written; the parser has already refused duplicate keys.
        case mapping([(key: YAMLNode, value: YAMLNode)])
    }

    public var content: Content
    public var mark: SourceMark

    public init(_ content: Content, mark: SourceMark) {
        self.content = content
        self.mark = mark
    }

    /// A plain scalar, for building nodes in code and tests.
    public static func scalar(_ value: String, mark: SourceMark) -> YAMLNode {
        YAMLNode(.scalar(Scalar(value: value, tag: nil, style: .plain)), mark: mark)
    }

    /// The scalar, when this node is one.
    public var scalar: Scalar? {
        if case .scalar(let s) = content { return s }
        return nil
    }

    /// Whether this is a plain `~`, `null` or empty value (what `key:` with nothing after it gives).
    public var isNull: Bool { scalar?.resolved == .null }
}

extension YAMLNode.Scalar {
    /// What a scalar means under the YAML 1.2 core schema, narrowed the way pipeline files want
    /// it: booleans are `true`/`false` only, integers decimal or `0x` hex.
    enum Resolved: Equatable {
        case null
        case bool(Bool)
        /// Looks like an integer; `value` is nil when it does not fit in 64 bits.
        case integer(Int64?)
        case float
        case string
    }

    var resolved: Resolved {
        switch tag {
        case nil:
            return style == .plain ? Self.resolvePlain(value) : .string
        case "tag:yaml.org,2002:str", "!":
            return .string
        case "tag:yaml.org,2002:null":
            return .null
        case "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float":
            // An explicit tag on a quoted value (`!!int "5"`) still asks for that type.
            return Self.resolvePlain(value)
        default:
            return .string
        }
    }

    private static func resolvePlain(_ text: String) -> Resolved {
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true": return .bool(true)
        case "false": return .bool(false)
        default: break
        }
        if let digits = integerDigits(text) { return .integer(parseInteger(digits)) }
        if looksLikeFloat(text) { return .float }
        return .string
    }

    /// Sign, radix and digits of a decimal or `0x` integer, or nil when it is not one.
    private static func integerDigits(_ text: String) -> (negative: Bool, radix: Int, digits: Substring)? {
        var rest = Substring(text)
        var negative = false
        if let first = rest.first, first == "-" || first == "+" {
            negative = first == "-"
            rest = rest.dropFirst()
        }
        if rest.hasPrefix("0x") || rest.hasPrefix("0X") {
            let digits = rest.dropFirst(2)
            guard !digits.isEmpty, digits.allSatisfy(\.isHexDigit) else { return nil }
            return (negative, 16, digits)
        }
        guard !rest.isEmpty, rest.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return (negative, 10, rest)
    }

    private static func parseInteger(_ p: (negative: Bool, radix: Int, digits: Substring)) -> Int64? {
        // Accumulate negatively so Int64.min parses too.
        var value: Int64 = 0
        for ch in p.digits {
            guard let d = ch.hexDigitValue else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: Int64(p.radix))
            let (s, o2) = m.subtractingReportingOverflow(Int64(d))
            if o1 || o2 { return nil }
            value = s
        }
        if p.negative { return value }
        return value == .min ? nil : -value
    }

    private static func looksLikeFloat(_ text: String) -> Bool {
        let lower = text.lowercased()
        if [".inf", "+.inf", "-.inf", ".nan"].contains(lower) { return true }
        var sawDigit = false, sawDot = false, sawExp = false
        var previous: Character? = nil
        for (i, ch) in text.enumerated() {
            switch ch {
            case "0"..."9": sawDigit = true
            case "+", "-": if !(i == 0 || previous == "e" || previous == "E") { return false }
            case ".": if sawDot || sawExp { return false }; sawDot = true
            case "e", "E": if sawExp || !sawDigit { return false }; sawExp = true
            default: return false
            }
            previous = ch
        }
        return sawDigit && (sawDot || sawExp) && previous.map { $0.isNumber || $0 == "." } == true
    }

    /// Words for error messages: "a string ('abc')", "an integer (12)", "null".
    var kindDescription: String {
        switch resolved {
        case .null: return "null"
        case .bool: return "a boolean (\(value))"
        case .integer: return "an integer (\(value))"
        case .float: return "a floating-point number (\(value))"
        case .string: return "a string ('\(Self.abbreviated(value))')"
        }
    }

    private static func abbreviated(_ s: String) -> String {
        s.count <= 40 ? s : String(s.prefix(37)) + "..."
    }
}

extension YAMLNode {
    /// Words for error messages: what this node is.
    var kindDescription: String {
        switch content {
        case .scalar(let s): s.kindDescription
        case .sequence: "a list"
        case .mapping: "a mapping"
        }
    }
}
