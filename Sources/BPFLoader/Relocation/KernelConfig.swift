import CZlib
#if canImport(Glibc)
import Glibc
#endif

/// The running kernel's configuration, for `.kconfig` externs: /proc/config.gz (gzip), or
/// /boot/config-$(uname -r) when the kernel does not export it. Read once per process.
enum KernelConfig {
    static let values: [String: String] = {
        let text = readProcConfig() ?? readBootConfig() ?? ""
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("CONFIG_") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            out[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return out
    }()

    /// Kernel release as `uname -r` prints it.
    static let release: String = {
        var u = utsname()
        uname(&u)
        return withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }()

    /// `KERNEL_VERSION(a, b, c)` of the running kernel, as libbpf computes LINUX_KERNEL_VERSION.
    static var linuxKernelVersion: UInt32 {
        let parts = release.split(whereSeparator: { !$0.isNumber }).prefix(3).map { UInt32($0) ?? 0 }
        let (a, b, c) = (parts.count > 0 ? parts[0] : 0, parts.count > 1 ? parts[1] : 0, parts.count > 2 ? parts[2] : 0)
        return a << 16 | b << 8 | min(c, 255)
    }

    private static func readProcConfig() -> String? {
        guard let gz = gzopen("/proc/config.gz", "rb") else { return nil }
        defer { gzclose(gz) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = gzread(gz, &buf, UInt32(buf.count))
            if n <= 0 { break }
            out += buf[0..<Int(n)]
            // A real config is well under this; a corrupted stream must not eat memory.
            if out.count > 64 << 20 { return nil }
        }
        return out.isEmpty ? nil : String(decoding: out, as: UTF8.self)
    }

    private static func readBootConfig() -> String? {
        guard let bytes = try? FileBytes.read(path: "/boot/config-\(release)", step: .relocate) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}
