import BPFLoader
#if canImport(Glibc)
import Glibc
#endif

/// This machine cannot run the pipeline (capabilities, bpffs): exit 3.
struct EnvironmentError: Error, CustomStringConvertible, ExitClassified {
    var description: String
    var exitClass: ExitClass { .environment }
}

/// Checks, before any step runs, that this process may load programs and pin them.
enum Environment {
    static let capSysAdmin = 21
    static let capBPF = 39

    static func checkCanLoad(pinRoot: String) throws {
        let caps = effectiveCapabilities()
        if let caps, caps & (1 << capBPF) == 0 && caps & (1 << capSysAdmin) == 0 {
            throw EnvironmentError(description: "missing capability CAP_BPF (or CAP_SYS_ADMIN): loading BPF programs needs it; run as root")
        }
        do {
            try BPFFS.prepare(pinRoot)
        } catch {
            throw EnvironmentError(description: "\(error)")
        }
    }

    /// CapEff from /proc/self/status; nil when it cannot be read.
    static func effectiveCapabilities() -> UInt64? {
        guard let f = fopen("/proc/self/status", "r") else { return nil }
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 512)
        while fgets(&line, Int32(line.count), f) != nil {
            let s = String(cString: line)
            if s.hasPrefix("CapEff:") {
                return UInt64(s.dropFirst(7).filter { !$0.isWhitespace }, radix: 16)
            }
        }
        return nil
    }
}
