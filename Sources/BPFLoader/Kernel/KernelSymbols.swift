/// `/proc/kallsyms` by address, for naming what the kernel's instructions call. Like bpftool,
/// it is empty when addresses are hidden (`kernel.kptr_restrict`, `__bpf_call_base` at 0).
public struct KernelSymbols: Sendable {
    public var callBase: UInt64 = 0
    var names: [UInt64: String] = [:]

    public func name(at address: UInt64) -> String? { names[address] }

    public static func load(path: String = "/proc/kallsyms") -> KernelSymbols {
        var symbols = KernelSymbols()
        guard let bytes = try? FileBytes.read(path: path, step: .load) else { return symbols }
        var i = 0
        while i < bytes.count {
            var end = i
            while end < bytes.count && bytes[end] != UInt8(ascii: "\n") { end += 1 }
            // "ffffffff81521a00 T bpf_ktime_get_ns\t[module]"
            let fields = bytes[i..<end].split(maxSplits: 3, whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") })
            if fields.count >= 3, let address = UInt64(String(decoding: fields[0], as: UTF8.self), radix: 16) {
                let name = String(decoding: fields[2], as: UTF8.self)
                if name == "__bpf_call_base" {
                    if address == 0 { return KernelSymbols() }
                    symbols.callBase = address
                }
                if address != 0 && symbols.names[address] == nil { symbols.names[address] = name }
            }
            i = end + 1
        }
        return symbols
    }
}
