import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Writes each record as one JSON object on one line, with flat keys: `ts`, `level`, `msg`, and
/// the record's metadata (`step`, `object`, `program`, `instance`, `duration_ms`, `insns`,
/// `prog_id`, `pin`, `error`, `verifier_log`, ...) as top-level keys, so `jq` and log shippers
/// need no schema.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level = .info
    private let sink: @Sendable (String) -> Void

    /// `sink` receives each line without its newline; the default writes to stderr.
    public init(sink: @escaping @Sendable (String) -> Void = { writeLine($0, to: 2) }) {
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let m = event.metadata { all.merge(m) { $1 } }
        var out = "{\"ts\":\(JSON.quote(Timestamp.now()))"
        out += ",\"level\":\(JSON.quote(event.level.rawValue))"
        out += ",\"msg\":\(JSON.quote(event.message.description))"
        for key in all.keys.sorted() where !["ts", "level", "msg"].contains(key) {
            out += ",\(JSON.quote(key)):\(JSON.value(all[key]!))"
        }
        out += "}"
        sink(out)
    }
}

/// Human-readable records: `level step object/program[n]: message key=value ...`.
public struct TextLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level = .info
    private let sink: @Sendable (String) -> Void

    public init(sink: @escaping @Sendable (String) -> Void = { writeLine($0, to: 2) }) {
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let m = event.metadata { all.merge(m) { $1 } }
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
        sink(line)
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

/// The small JSON writer the log handler and reports need.
enum JSON {
    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let c where c.value < 0x20:
                let hex = String(c.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
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
