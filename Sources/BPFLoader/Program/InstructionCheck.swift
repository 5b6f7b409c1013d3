/// Checks instructions that came back from a preprocessor before the kernel sees them, and carries
/// func_info and line_info over to the new code where the change can be followed.
enum InstructionCheck {
    struct Refusal: Error { var reason: String }

    /// The kernel's limit on a program's length (BPF_COMPLEXITY_LIMIT_INSNS).
    static let kernelInstructionLimit = 1_000_000

    /// ld_imm64 pairs whole, jumps and calls landing inside the program and never in the second
    /// half of an ld_imm64, count within the kernel's limit. Returns a message naming the instruction.
    static func problem(in code: [Instruction]) -> String? {
        if code.isEmpty { return "no instructions" }
        if code.count > kernelInstructionLimit {
            return "\(code.count) instructions exceed the kernel's limit of \(kernelInstructionLimit)"
        }
        var secondHalf = Set<Int>()
        var i = 0
        while i < code.count {
            if code[i].isLoadImm64 {
                guard i + 1 < code.count, code[i + 1].opcode == 0, code[i + 1].registers == 0, code[i + 1].offset == 0 else {
                    return "instruction \(i): 64-bit load is not followed by its second half"
                }
                secondHalf.insert(i + 1)
                i += 2
            } else { i += 1 }
        }
        for (i, insn) in code.enumerated() where !secondHalf.contains(i) {
            // Each kind of reference says what it is, so a message tells which one is wrong.
            let target: Int, what: String
            if insn.isPseudoCall {
                (target, what) = (i + Int(insn.immediate) + 1, "calls instruction")
            } else if insn.isPseudoFunc {
                (target, what) = (i + Int(insn.immediate) + 1, "refers to a function at instruction")
            } else if insn.isLongJump {
                (target, what) = (i + Int(insn.immediate) + 1, "gotol jumps to")
            } else if insn.isRelativeJump {
                (target, what) = (i + Int(insn.offset) + 1, "jumps to")
            } else {
                continue
            }
            if target < 0 || target >= code.count {
                return "instruction \(i): \(what) \(target), outside the program's \(code.count) instructions"
            }
            if secondHalf.contains(target) {
                return "instruction \(i): \(what) \(target), the second half of the 64-bit load at instruction \(target - 1)"
            }
        }
        return nil
    }

    /// A BPF-to-BPF call or function reference must land on the first instruction of a function
    /// (`functionStarts`), or func_info and the kernel's idea of the subprograms disagree.
    static func misplacedCall(in code: [Instruction], functionStarts: [Int]) -> String? {
        let starts = Set(functionStarts)
        for (i, insn) in code.enumerated() where insn.isPseudoCall || insn.isPseudoFunc {
            let target = i + Int(insn.immediate) + 1
            if !starts.contains(target) {
                let what = insn.isPseudoCall ? "calls instruction" : "refers to a function at instruction"
                return "instruction \(i): \(what) \(target), which is not the start of a function (functions start at \(functionStarts.sorted().map(String.init).joined(separator: ", ")))"
            }
        }
        return nil
    }

    /// Moves debug info onto preprocessed code. Same length: unchanged. A prefix inserted before
    /// the original code (a prologue; the original opcodes follow it unchanged): every record shifts, the entry keeps func_info at 0 and
    /// the prologue borrows the entry's first line. Anything else in a program with subprograms
    /// cannot be followed and is refused; a single function keeps its func_info and drops lines.
    /// CO-RE failure notes move with their instructions (shifted by a prologue), so a poisoned
    /// access reached in a preprocessed instance is still named; where the code cannot be
    /// followed they are dropped rather than pinned to the wrong instruction.
    static func carryDebugInfo(from original: LinkedProgram, to code: [Instruction]) -> Result<LinkedProgram, InstructionCheck.Refusal> {
        let carried = followDebugInfo(from: original, to: code)
        // Where func_info describes the functions, every call must enter one at its start.
        if case .success(let linked) = carried, !linked.funcInfo.isEmpty,
           let problem = misplacedCall(in: linked.instructions, functionStarts: linked.functionStarts) {
            return .failure(Refusal(reason: "returned invalid code: \(problem)"))
        }
        return carried
    }

    private static func followDebugInfo(from original: LinkedProgram, to code: [Instruction]) -> Result<LinkedProgram, InstructionCheck.Refusal> {
        if code.count == original.instructions.count {
            return .success(LinkedProgram(instructions: code, funcInfo: original.funcInfo, lineInfo: original.lineInfo,
                                          functionStarts: original.functionStarts, coreFailures: original.coreFailures))
        }
        let shift = code.count - original.instructions.count
        // The original code still follows the prefix, instruction for instruction (a stage may have
        // changed immediates in it, as patch-imm does, but nothing moved).
        if shift > 0 && code[shift...].elementsEqual(original.instructions, by: { $0.opcode == $1.opcode }) {
            var funcs = original.funcInfo.map { FuncInfo(instruction: $0.instruction == 0 ? 0 : $0.instruction + shift, typeID: $0.typeID) }
            funcs.sort { $0.instruction < $1.instruction }
            var lines = original.lineInfo.map { var l = $0; l.instruction += shift; return l }
            if let first = original.lineInfo.first { lines.insert(LineInfo(instruction: 0, fileNameOffset: first.fileNameOffset, lineOffset: first.lineOffset, lineColumn: first.lineColumn), at: 0) }
            return .success(LinkedProgram(instructions: code, funcInfo: funcs, lineInfo: lines,
                                          functionStarts: original.functionStarts.map { $0 == 0 ? 0 : $0 + shift },
                                          coreFailures: Dictionary(uniqueKeysWithValues: original.coreFailures.map { ($0.key + shift, $0.value) })))
        }
        if original.functionStarts.count > 1 {
            return .failure(Refusal(reason: "changed the instruction count from \(original.instructions.count) to \(code.count) other than by adding a prologue, in a program with \(original.functionStarts.count - 1) subprogram(s): their func_info and call offsets cannot be kept consistent"))
        }
        return .success(LinkedProgram(instructions: code, funcInfo: Array(original.funcInfo.prefix(1)), lineInfo: [], functionStarts: [0]))
    }
}

/// Limits the kernel puts on programs, for callers that check before the kernel does.
public enum InstructionLimits {
    public static let kernelMaximum = InstructionCheck.kernelInstructionLimit

    /// What is wrong with `code` (a split ld_imm64, a jump out of range, too many instructions),
    /// or nil; for callers that want to name the culprit before the loader's own check.
    public static func problem(in code: [Instruction]) -> String? { InstructionCheck.problem(in: code) }
}
