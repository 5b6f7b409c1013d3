extension Disassembler {
    /// What a stage did to one instruction of an instance, compared with the relocated program.
    public enum Change: Character, Sendable {
        case same = " "
        case inserted = "+"
        case changed = "*"
    }

    /// A whole program in `bpftool prog dump xlated`'s plain layout: the function's signature and
    /// a colon where func_info starts a function, `; source line` where line_info has a record,
    /// then `%4d: instruction` (an `ld_imm64` takes two slots and one line). With `changes`, each
    /// instruction line starts with its marker column (`+` inserted, `*` changed, blank otherwise).
    public func listing(_ code: [Instruction], functions: [Int: String] = [:], sourceLines: [Int: String] = [:],
                        changes: [Change]? = nil) -> String {
        var out = ""
        var i = 0
        while i < code.count {
            let wide = code[i].isLoadImm64 && i + 1 < code.count
            if let f = functions[i] { out += f + ":\n" }
            if let line = sourceLines[i] { out += "; " + line + "\n" }
            if let changes {
                var mark = i < changes.count ? changes[i] : .same
                if wide, i + 1 < changes.count, mark == .same { mark = changes[i + 1] }
                out.append(mark.rawValue)
            }
            let index = String(i)
            out += String(repeating: " ", count: max(0, 4 - index.count)) + index + ": "
            out += text(code[i], next: wide ? code[i + 1] : nil) + "\n"
            i += wide ? 2 : 1
        }
        return out
    }

    /// Marks each instruction of `instance` as kept, changed or inserted relative to `original`
    /// (the relocated program), and counts the original instructions that are gone. Instructions
    /// pair up by opcode from the end (a prologue leaves the original as the tail), then from the
    /// start, then by a longest common subsequence of what is left; a pair whose fields differ
    /// is `changed`.
    public static func changes(from original: [Instruction], to instance: [Instruction]) -> (marks: [Change], removed: Int) {
        var marks = [Change](repeating: .inserted, count: instance.count)
        var pairs: [(Int, Int)] = []
        var oEnd = original.count, nEnd = instance.count
        while oEnd > 0, nEnd > 0, original[oEnd - 1].opcode == instance[nEnd - 1].opcode {
            oEnd -= 1; nEnd -= 1
            pairs.append((oEnd, nEnd))
        }
        var oStart = 0, nStart = 0
        while oStart < oEnd, nStart < nEnd, original[oStart].opcode == instance[nStart].opcode {
            pairs.append((oStart, nStart))
            oStart += 1; nStart += 1
        }
        let oMid = Array(original[oStart..<oEnd]), nMid = Array(instance[nStart..<nEnd])
        if oMid.count == nMid.count {
            // Same length: the stage rewrote these in place.
            for k in 0..<oMid.count { pairs.append((oStart + k, nStart + k)) }
        } else {
            for (a, b) in commonSubsequence(oMid, nMid) { pairs.append((oStart + a, nStart + b)) }
        }
        for (o, n) in pairs { marks[n] = original[o] == instance[n] ? .same : .changed }
        return (marks, original.count - pairs.count)
    }

    /// Index pairs of a longest common subsequence by opcode. Quadratic, so past a few million
    /// cells it gives up and pairs nothing: every instruction there shows as inserted.
    private static func commonSubsequence(_ a: [Instruction], _ b: [Instruction]) -> [(Int, Int)] {
        guard !a.isEmpty, !b.isEmpty, a.count * b.count <= 4_000_000 else { return [] }
        let w = b.count + 1
        var table = [Int32](repeating: 0, count: (a.count + 1) * w)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                table[i * w + j] = a[i].opcode == b[j].opcode ? table[(i + 1) * w + j + 1] + 1
                                                              : max(table[(i + 1) * w + j], table[i * w + j + 1])
            }
        }
        var out: [(Int, Int)] = []
        var i = 0, j = 0
        while i < a.count, j < b.count {
            if a[i].opcode == b[j].opcode { out.append((i, j)); i += 1; j += 1 }
            else if table[(i + 1) * w + j] >= table[i * w + j + 1] { i += 1 } else { j += 1 }
        }
        return out
    }
}
