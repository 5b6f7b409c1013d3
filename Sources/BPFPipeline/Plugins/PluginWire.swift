import BPFLoader
#if canImport(Glibc)
import Glibc
#endif

/// The messages between bpfpipe and a plugin running in a child process (`isolation: process`):
/// length-prefixed little-endian frames over a pipe pair. Kept deliberately small: a config at
/// start, then one request and one answer per instance.
enum PluginWire {
    struct Closed: Error {}

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw Closed() }
            offset += n
        }
    }

    static func readExactly(_ fd: Int32, _ count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let n = out[offset...].withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw Closed() }
            offset += n
        }
        return out
    }

    static func u32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    static func readU32(_ fd: Int32) throws -> UInt32 {
        let b = try readExactly(fd, 4)
        return UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
    }

    static func string(_ s: String) -> [UInt8] { u32(UInt32(s.utf8.count)) + Array(s.utf8) }

    /// Strings and instruction arrays are bounded so a confused peer cannot make us allocate wildly.
    static func readString(_ fd: Int32) throws -> String {
        let n = try readU32(fd)
        guard n <= 1 << 20 else { throw Closed() }
        return String(decoding: try readExactly(fd, Int(n)), as: UTF8.self)
    }

    static func instructions(_ insns: [Instruction]) -> [UInt8] {
        u32(UInt32(insns.count)) + insns.withUnsafeBytes { Array($0) }
    }

    static func readInstructions(_ fd: Int32) throws -> [Instruction] {
        let n = try readU32(fd)
        guard n <= UInt32(InstructionLimits.kernelMaximum) else { throw Closed() }
        let bytes = try readExactly(fd, Int(n) * 8)
        return bytes.withUnsafeBytes { raw in Array(raw.bindMemory(to: Instruction.self)) }
    }
}

/// The child side: loads the plugin and answers requests until its input closes. Run by the
/// hidden `bpfpipe plugin-host PATH` command.
public enum PluginHost {
    public static func serve(pluginPath: String, input: Int32 = 0, output: Int32 = 1) -> Int32 {
        do {
            let config = try PluginWire.readString(input)
            let instance: PluginInstance
            do {
                instance = try PluginLibrary(path: pluginPath).instantiate(configJSON: config)
                try PluginWire.writeAll(output, PluginWire.u32(0))
            } catch {
                try PluginWire.writeAll(output, PluginWire.u32(1) + PluginWire.string("\(error)"))
                return 1
            }
            while true {
                let n = try PluginWire.readU32(input)
                let instances = try PluginWire.readU32(input)
                let type = try PluginWire.readU32(input)
                let object = try PluginWire.readString(input)
                let program = try PluginWire.readString(input)
                let section = try PluginWire.readString(input)
                let insns = try PluginWire.readInstructions(input)
                let ctx = PreprocessContext(object: object, program: program, section: section, programType: type,
                                            instance: Int(n), instances: Int(instances))
                do {
                    let out = try instance.prep(ctx, insns) ?? []
                    try PluginWire.writeAll(output, PluginWire.u32(0) + PluginWire.instructions(out))
                } catch {
                    try PluginWire.writeAll(output, PluginWire.u32(1) + PluginWire.string("\(error)"))
                }
            }
        } catch {
            return 0
        }
    }
}
