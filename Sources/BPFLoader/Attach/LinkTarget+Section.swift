extension LinkTarget {
    /// The target a libbpf section name states, for programs that attach by themselves
    /// (bpftool's autoattach): `uprobe/PATH:FUNC[+OFF]`, `uretprobe/PATH:FUNC[+OFF]` (also
    /// `PATH:OFF`, and the sleepable `uprobe.s`/`uretprobe.s`), `tp/CAT/NAME`,
    /// `tracepoint/CAT/NAME`, `raw_tp/NAME`, `raw_tracepoint/NAME` (and their `.w` writable
    /// forms), `tp_btf/NAME`, `fentry/`, `fexit/`, `fmod_ret/`, `lsm/`, `iter/` (target fixed at
    /// load), `kprobe/FUNC[+OFF]`, `kretprobe/FUNC`. nil when the section names no target
    /// (`xdp`, `tc`, `socket`, `cgroup/...`, bare `uprobe`, ...) or the target does not parse.
    public static func fromSection(_ section: String) -> LinkTarget? {
        let section = section.hasPrefix("?") ? String(section.dropFirst()) : section
        guard let slash = section.firstIndex(of: "/") else { return nil }
        let head = String(section[..<slash])
        let rest = String(section[section.index(after: slash)...])
        guard !rest.isEmpty else { return nil }
        switch head {
        case "uprobe", "uprobe.s": return uprobe(rest, isReturn: false)
        case "uretprobe", "uretprobe.s": return uprobe(rest, isReturn: true)
        case "kprobe", "kretprobe":
            guard let (function, offset) = functionAndOffset(rest), let function else { return nil }
            if head == "kretprobe" && offset != 0 { return nil }
            return .kprobe(function: function, offset: offset, isReturn: head == "kretprobe")
        case "tp", "tracepoint":
            let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
            return .tracepoint(category: String(parts[0]), name: String(parts[1]))
        case "raw_tp", "raw_tracepoint", "raw_tp.w", "raw_tracepoint.w":
            guard !rest.contains("/") else { return nil }
            return .rawTracepoint(name: rest)
        case "tp_btf", "fentry", "fexit", "fmod_ret", "fentry.s", "fexit.s", "fmod_ret.s", "lsm", "lsm.s", "iter", "iter.s":
            return .tracing
        default:
            return nil
        }
    }

    /// `PATH:FUNC[+OFF]` or `PATH:OFF`; the path is everything before the last ':'.
    private static func uprobe(_ spec: String, isReturn: Bool) -> LinkTarget? {
        guard let colon = spec.lastIndex(of: ":") else { return nil }
        let binary = String(spec[..<colon])
        guard !binary.isEmpty, let (function, offset) = functionAndOffset(String(spec[spec.index(after: colon)...])) else { return nil }
        return .uprobe(UprobeTarget(binary: binary, function: function, offset: offset, isReturn: isReturn))
    }

    /// `FUNC`, `FUNC+OFF` or a bare `OFF` (function nil); offsets in decimal or 0x hex.
    static func functionAndOffset(_ text: String) -> (String?, UInt64)? {
        if let offset = parseNumber(text) { return (nil, offset) }
        var function = text
        var offset: UInt64 = 0
        if let plus = text.lastIndex(of: "+") {
            guard let n = parseNumber(String(text[text.index(after: plus)...])) else { return nil }
            function = String(text[..<plus])
            offset = n
        }
        let allowed = { (c: Character) in c.isASCII && (c.isLetter || c.isNumber || c == "_" || c == "." || c == "@") }
        guard !function.isEmpty, function.allSatisfy(allowed) else { return nil }
        return (function, offset)
    }

    /// A decimal or 0x-prefixed hexadecimal number.
    static func parseNumber(_ text: String) -> UInt64? {
        if text.hasPrefix("0x") || text.hasPrefix("0X") { return UInt64(text.dropFirst(2), radix: 16) }
        guard let first = text.first, first.isNumber else { return nil }
        return UInt64(text)
    }
}
