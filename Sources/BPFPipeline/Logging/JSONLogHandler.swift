import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Writes each record as one JSON object on one line, with flat keys: `ts`, `level`, `msg`, and
/// the record's metadata (`step`, `object`, `program`, `instance`, `duration_ms`, `insns`,
/// `prog_id`, `pin`, `error`, `verifier_log`, ...) as top-level keys, so `jq` and log shippers
/// need no schema.
public struct JSONLogHandler: LineLogHandler {
    var state: LineLogState

    /// `sink` receives each line without its newline; the default writes to stderr.
    public init(sink: @escaping @Sendable (String) -> Void = { writeLine($0, to: 2) }) {
        state = LineLogState(sink: sink)
    }

    func line(for event: LogEvent, metadata all: Logger.Metadata) -> String {
        var out = "{\"ts\":\(JSON.quote(Timestamp.now()))"
        out += ",\"level\":\(JSON.quote(event.level.rawValue))"
        out += ",\"msg\":\(JSON.quote(event.message.description))"
        for key in all.keys.sorted() where !["ts", "level", "msg"].contains(key) {
            out += ",\(JSON.quote(key)):\(JSON.value(all[key]!))"
        }
        return out + "}"
    }
}

/// Human-readable records: `level step object/program[n]: message key=value ...`.
public struct TextLogHandler: LineLogHandler {
    var state: LineLogState

    /// `sink` receives each line without its newline; the default writes to stderr.
    public init(sink: @escaping @Sendable (String) -> Void = { writeLine($0, to: 2) }) {
        state = LineLogState(sink: sink)
    }

    func line(for event: LogEvent, metadata: Logger.Metadata) -> String {
        var all = metadata
        var head = ""
        if let step = all.removeValue(forKey: "step") { head += "[\(step)] " }
        var subject = ""
        if let o = all.removeValue(forKey: "object") { subject += "\(o)" }
        if let p = all.removeValue(forKey: "program") { subject += "/\(p)" }
        if let n = all.removeValue(forKey: "instance") { subject += "[\(n)]" }
        if !subject.isEmpty { head += subject + ": " }
        let level = event.level == .info ? "" : "\(event.level.rawValue): "
        // The failure itself is printed once, by the command, with its verifier log.
        all.removeValue(forKey: "verifier_log")
        all.removeValue(forKey: "error")
        var line = level + head + event.message.description
        for key in all.keys.sorted() { line += " \(key)=\(all[key]!)" }
        return line
    }
}

/// What a line handler holds: the logger's settings and where lines go.
struct LineLogState: Sendable {
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    var logLevel: Logger.Level = .info
    let sink: @Sendable (String) -> Void
}

/// A handler that writes each record as one line; it supplies only how a record reads, and
/// shares the logger plumbing and the metadata merge.
protocol LineLogHandler: LogHandler {
    var state: LineLogState { get set }
    /// The record as one line, without its newline; `metadata` is already merged.
    func line(for event: LogEvent, metadata: Logger.Metadata) -> String
}

extension LineLogHandler {
    public var metadata: Logger.Metadata {
        get { state.metadata }
        set { state.metadata = newValue }
    }

    public var metadataProvider: Logger.MetadataProvider? {
        get { state.metadataProvider }
        set { state.metadataProvider = newValue }
    }

    public var logLevel: Logger.Level {
        get { state.logLevel }
        set { state.logLevel = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { state.metadata[key] }
        set { state.metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        // The handler's metadata, then the provider's, then the record's own; a later value wins.
        var all = state.metadata
        if let provided = state.metadataProvider?.get() { all.merge(provided) { $1 } }
        if let m = event.metadata { all.merge(m) { $1 } }
        state.sink(line(for: event, metadata: all))
    }
}

/// Writes a whole line to a file descriptor, retrying short writes and EINTR.
public func writeLine(_ text: String, to fd: Int32) {
    var line = text + "\n"
    line.withUTF8 { buf in
        var rest = UnsafeRawBufferPointer(buf)
        while !rest.isEmpty {
            let n = write(fd, rest.baseAddress, rest.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
        }
    }
}

enum Timestamp {
    /// RFC 3339 in UTC with milliseconds, without Foundation's date formatters.
    static func now() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = ts.tv_sec
        var tm = tm()
        gmtime_r(&t, &tm)
        func pad(_ v: Int32, _ w: Int) -> String { let s = String(v); return String(repeating: "0", count: max(0, w - s.count)) + s }
        return "\(pad(tm.tm_year + 1900, 4))-\(pad(tm.tm_mon + 1, 2))-\(pad(tm.tm_mday, 2))T\(pad(tm.tm_hour, 2)):\(pad(tm.tm_min, 2)):\(pad(tm.tm_sec, 2)).\(pad(Int32(ts.tv_nsec / 1_000_000), 3))Z"
    }
}

/// The small JSON writer the log handler, reports and plugin configurations need.
enum JSON {
    /// `s` as a JSON string literal.
    static func quote(_ s: String) -> String {
        var out = ""
        appendQuoted(s, to: &out)
        return out
    }

    /// Appends `s` as a JSON string literal.
    static func appendQuoted(_ s: String, to out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            // Control characters, and the two separators JavaScript treats as line ends.
            case _ where u.value < 0x20 || u.value == 0x2028 || u.value == 0x2029:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        out += "\""
    }

    /// Strings stay strings; numbers and booleans passed as `.stringConvertible` (as
    /// `duration_ms`, `instance` and `prog_id` are) are written as JSON numbers and booleans.
    static func value(_ v: Logger.MetadataValue) -> String {
        switch v {
        case .string(let s): return quote(s)
        case .stringConvertible(let c):
            if c is any BinaryInteger || c is Bool { return c.description }
            if let d = c as? Double { return d.isFinite ? c.description : quote(c.description) }
            return quote(c.description)
        case .array(let a): return "[" + a.map(value).joined(separator: ",") + "]"
        case .dictionary(let d): return "{" + d.keys.sorted().map { "\(quote($0)):\(value(d[$0]!))" }.joined(separator: ",") + "}"
        }
    }
}
