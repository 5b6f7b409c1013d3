import BPFLoader
import BPFPipePluginABI

/// The plugin host hands `Instruction` arrays to C as `struct bpf_insn` and reads the plugin's
/// `struct bpf_insn` back as `Instruction`, byte for byte. That is only sound while the two have
/// the same size, stride, alignment and field offsets; this is checked once, before the first
/// plugin is opened, instead of trusting a comment.
enum InstructionLayout {
    /// Why `swift` cannot stand in for `c`, or nil when it can. Generic so that a test can show a
    /// mismatch is caught.
    static func mismatch<S, C>(_ swift: S.Type, _ c: C.Type,
                               swiftOffsets: [Int?] = [], cOffsets: [Int?] = []) -> String? {
        let s = (MemoryLayout<S>.size, MemoryLayout<S>.stride, MemoryLayout<S>.alignment)
        let k = (MemoryLayout<C>.size, MemoryLayout<C>.stride, MemoryLayout<C>.alignment)
        if s != k || swiftOffsets != cOffsets {
            return "\(S.self) (size \(s.0), stride \(s.1), alignment \(s.2), field offsets \(swiftOffsets.map { $0.map(String.init) ?? "?" })) "
                + "does not match \(C.self) (size \(k.0), stride \(k.1), alignment \(k.2), field offsets \(cOffsets.map { $0.map(String.init) ?? "?" }))"
        }
        return nil
    }

    /// The result for `Instruction` and `bpf_insn`, computed once. (dst_reg/src_reg are
    /// bitfields with no offset of their own; they share the byte after `code`.)
    static let problem: String? = mismatch(
        Instruction.self, bpf_insn.self,
        swiftOffsets: [MemoryLayout<Instruction>.offset(of: \.opcode), MemoryLayout<Instruction>.offset(of: \.registers),
                       MemoryLayout<Instruction>.offset(of: \.offset), MemoryLayout<Instruction>.offset(of: \.immediate)],
        cOffsets: [MemoryLayout<bpf_insn>.offset(of: \.code), 1, MemoryLayout<bpf_insn>.offset(of: \.off),
                   MemoryLayout<bpf_insn>.offset(of: \.imm)])

    /// Throws the mismatch, if any, as an error naming `plugin`.
    static func verify(plugin path: String) throws {
        if let problem { throw PluginLibrary.Failure(path: path, message: "cannot exchange instructions with plugins: \(problem)") }
    }
}
