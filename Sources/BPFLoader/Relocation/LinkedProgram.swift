/// `bpf_func_info` with the offset counted in instructions of the linked program.
public struct FuncInfo: Sendable, Equatable {
    public var instruction: Int
    public var typeID: UInt32
}

/// `bpf_line_info` with the offset counted in instructions of the linked program.
public struct LineInfo: Sendable, Equatable {
    public var instruction: Int
    public var fileNameOffset: UInt32
    public var lineOffset: UInt32
    public var lineColumn: UInt32
    public var line: UInt32 { lineColumn >> 10 }
    public var column: UInt32 { lineColumn & 0x3ff }
}

/// A program after relocation: its entry function followed by every subprogram it reaches, with map
/// fds, data offsets and call offsets written in, and the debug info that goes with that code.
public struct LinkedProgram: Sendable, Equatable {
    public var instructions: [Instruction]
    public var funcInfo: [FuncInfo]
    public var lineInfo: [LineInfo]
    /// Where each function (entry first) starts; more than one means bpf-to-bpf calls.
    public var functionStarts: [Int]
    /// Instructions poisoned because a CO-RE relocation found nothing in the kernel, with what
    /// each stood for; the verifier only objects to them when they are reachable.
    public var coreFailures: [Int: String] = [:]
}
