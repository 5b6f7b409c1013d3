/// JSON rendering, for handing a stage's `with:` to a plugin that takes JSON.
extension YAMLNode {
    /// Plain scalars that read as integers, booleans or null become JSON numbers, booleans and
    /// null; every other scalar is a JSON string. Mappings become objects (keys as written),
    /// sequences arrays. The output is compact, with no whitespace. With `sortingKeys`, mapping
    /// keys are sorted, so two files that differ only in key order or comments give one text.
    public func json(sortingKeys: Bool = false) -> String {
        var out = ""
        appendJSON(to: &out, sortingKeys: sortingKeys)
        return out
    }

    private func appendJSON(to out: inout String, sortingKeys: Bool) {
        switch content {
        case .scalar(let s):
            switch s.resolved {
            case .null: out += "null"
            case .bool(let b): out += b ? "true" : "false"
            case .integer(let v?): out += String(v)
            case .integer(nil), .float, .string: JSON.appendQuoted(s.value, to: &out)
            }
        case .sequence(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.appendJSON(to: &out, sortingKeys: sortingKeys)
            }
            out += "]"
        case .mapping(let pairs):
            out += "{"
            let ordered = sortingKeys ? pairs.sorted { ($0.key.scalar?.value ?? "") < ($1.key.scalar?.value ?? "") } : pairs
            for (i, pair) in ordered.enumerated() {
                if i > 0 { out += "," }
                // JSON keys are strings; a non-scalar key (rare) is keyed by its own JSON text.
                JSON.appendQuoted(pair.key.scalar?.value ?? pair.key.json(), to: &out)
                out += ":"
                pair.value.appendJSON(to: &out, sortingKeys: sortingKeys)
            }
            out += "}"
        }
    }
}
