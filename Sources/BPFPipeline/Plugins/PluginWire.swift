import BPFLoader
#if canImport(Glibc)
import Glibc
#endif

/// The messages between bpfpipe and a plugin running in a child process (`isolation: process`):
/// length-prefixed little-endian frames over a socket pair that is the child's descriptor 3
/// (its stdout and stderr stay free for the plugin). Kept deliberately small: a config at start,
/// then one request and one answer per instance.
enum PluginWire {
    /// The child's descriptor for the protocol.
    static let childDescriptor: Int32 = 3

    /// The peer closed the connection.
    struct Closed: Error {}
    /// The peer sent something that is not a frame of this protocol.
    struct Malformed: Error, CustomStringConvertible { var description: String }

    static func u32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    static func string(_ s: String) -> [UInt8] { u32(UInt32(s.utf8.count)) + Array(s.utf8) }

    /// Instructions as the kernel lays them out, field by field (no reinterpretation of memory).
    static func instructions(_ insns: [Instruction]) -> [UInt8] {
        var out = u32(UInt32(insns.count))
        out.reserveCapacity(4 + insns.count * 8)
        for i in insns {
            out += [i.opcode, i.registers] + (0..<2).map { UInt8(truncatingIfNeeded: UInt16(bitPattern: i.offset) >> (8 * $0)) }
            out += u32(UInt32(bitPattern: i.immediate))
        }
        return out
    }

    /// Reads frames from `next`, which returns exactly the number of bytes asked for or throws.
    struct Reader {
        var next: (Int) throws -> [UInt8]

        func u32() throws -> UInt32 {
            let b = try next(4)
            return UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
        }

        /// Strings and instruction arrays are bounded so a confused peer cannot make us allocate wildly.
        func string() throws -> String {
            let n = try u32()
            guard n <= 1 << 20 else { throw Malformed(description: "a string of \(n) bytes, over the 1 MiB limit") }
            return String(decoding: try next(Int(n)), as: UTF8.self)
        }

        func instructions() throws -> [Instruction] {
            let n = try u32()
            guard n <= UInt32(InstructionLimits.kernelMaximum) else {
                throw Malformed(description: "\(n) instructions, over the kernel's limit of \(InstructionLimits.kernelMaximum)")
            }
            let b = try next(Int(n) * 8)
            return (0..<Int(n)).map { k in
                let o = k * 8
                var insn = Instruction(opcode: b[o], offset: Int16(bitPattern: UInt16(b[o + 2]) | UInt16(b[o + 3]) << 8),
                                       immediate: Int32(bitPattern: UInt32(b[o + 4]) | UInt32(b[o + 5]) << 8 | UInt32(b[o + 6]) << 16 | UInt32(b[o + 7]) << 24))
                insn.registers = b[o + 1]
                return insn
            }
        }
    }

    /// A blocking reader on `fd` (the child's side, which has nothing else to do while it waits).
    static func reader(_ fd: Int32) -> Reader {
        Reader { count in
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
    }

    /// Writes all of `bytes` to the socket `fd`. MSG_NOSIGNAL: a peer that went away is an
    /// error here, not a SIGPIPE for the whole process.
    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw Closed() }
            offset += n
        }
    }
}

/// The child side: loads the plugin and answers requests until the socket closes. Run by the
/// hidden `bpfpipe plugin-host PATH` command, with the socket as descriptor 3.
public enum PluginHost {
    public static func serve(pluginPath: String, channel: Int32 = 3) -> Int32 {
        guard fcntl(channel, F_GETFD) >= 0 else {
            let text = "bpfpipe plugin-host: descriptor \(channel) is not open; bpfpipe starts this command itself for `isolation: process`\n"
            _ = text.withCString { write(2, $0, strlen($0)) }
            return 2
        }
        // The plugin's own output goes to a pipe bpfpipe reads line by line; C's stdio buffers
        // it fully, so every answer is preceded by fflush(nil) and each call's lines appear
        // with it rather than when the child exits.
        let input = PluginWire.reader(channel)
        do {
            let config = try input.string()
            let instance: PluginInstance
            do {
                instance = try PluginLibrary(path: pluginPath).instantiate(configJSON: config)
                fflush(nil)
                try PluginWire.sendAll(channel, PluginWire.u32(0))
            } catch {
                fflush(nil)
                try PluginWire.sendAll(channel, PluginWire.u32(1) + PluginWire.string("\(error)"))
                return 1
            }
            while true {
                let n = try input.u32()
                let instances = try input.u32()
                let type = try input.u32()
                let object = try input.string()
                let program = try input.string()
                let section = try input.string()
                let insns = try input.instructions()
                let ctx = PreprocessContext(object: object, program: program, section: section, programType: type,
                                            instance: Int(n), instances: Int(instances))
                let answer: [UInt8]
                do {
                    answer = PluginWire.u32(0) + PluginWire.instructions(try instance.prep(ctx, insns) ?? [])
                } catch {
                    answer = PluginWire.u32(1) + PluginWire.string("\(error)")
                }
                fflush(nil)
                try PluginWire.sendAll(channel, answer)
            }
        } catch {
            return 0
        }
    }
}
