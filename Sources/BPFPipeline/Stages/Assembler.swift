import BPFLoader

/// The small assembly syntax of the `prologue` stage, one instruction per line, in the notation
/// llvm-objdump and the verifier log print:
///
///     r1 = 42            w1 = 42            r1 = r6           r1 = 0x1122334455667788 ll
///     r1 += 8            w1 &= 0xff         r1 <<= r2         (+ - * / % & | ^ << >> s>>)
///     r0 = *(u32 *)(r1 + 48)                *(u32 *)(r1 + 48) = w2      *(u64 *)(r10 - 8) = 7
///     if r1 > 5 goto +2  if w1 != w2 goto -1  (== != > >= < <= s> s>= s< s<= &)
///     goto +3            call 6             exit           ; a comment
enum Assembler {
    struct Failure: Error, CustomStringConvertible {
        var line: String
        var message: String
        var description: String { "'\(line)': \(message)" }
    }

    static func assemble(_ text: String) throws -> [Instruction] {
        let line = String(text.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? "").trimmingSpaces
        func fail(_ m: String) -> Failure { Failure(line: text, message: m) }
        let words = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard let first = words.first else { throw fail("empty instruction") }

        switch first {
        case "exit":
            guard words.count == 1 else { throw fail("exit takes no operands") }
            return [.exit]
        case "call":
            guard words.count == 2, let id = integer(words[1]).flatMap({ Int32(exactly: $0) }) else { throw fail("expected: call <helper id>") }
            return [Instruction(opcode: Instruction.callOpcode, immediate: id)]
        case "goto":
            guard words.count == 2, let off = jumpOffset(words[1]) else { throw fail("expected: goto +N or goto -N") }
            return [Instruction(opcode: 0x05, offset: off)]
        case "if":
            guard words.count == 6, words[4] == "goto", let (dst, wide) = register(words[1]),
                  let op = jumpOps[words[2]], let off = jumpOffset(words[5]) else {
                throw fail("expected: if rD <op> <imm or rS> goto +N")
            }
            let cls: UInt8 = wide ? 0x05 : 0x06
            if let (src, srcWide) = register(words[3]) {
                guard srcWide == wide else { throw fail("mixes 32- and 64-bit registers") }
                return [Instruction(opcode: op | 0x08 | cls, dst: dst, src: src, offset: off)]
            }
            guard let imm = integer(words[3]).flatMap({ Int32(exactly: $0) }) else { throw fail("bad comparison operand '\(words[3])'") }
            return [Instruction(opcode: op | cls, dst: dst, offset: off, immediate: imm)]
        default:
            break
        }

        // Assignments: split at the (compound) assignment operator.
        guard let (lhs, op, rhs) = splitAssignment(line) else { throw fail("unknown instruction") }
        if let mem = memoryOperand(lhs) {
            guard op == "=" else { throw fail("only '=' can store to memory") }
            if let (src, _) = register(rhs) {
                return [Instruction(opcode: 0x63 | mem.size, dst: mem.base, src: src, offset: mem.offset)]
            }
            guard let imm = integer(rhs).flatMap({ Int32(exactly: $0) }) else { throw fail("store value must be a register or a 32-bit immediate") }
            return [Instruction(opcode: 0x62 | mem.size, dst: mem.base, offset: mem.offset, immediate: imm)]
        }
        guard let (dst, wide) = register(lhs) else { throw fail("'\(lhs)' is not a register (r0-r10, w0-w10) or memory operand") }
        let cls: UInt8 = wide ? 0x07 : 0x04
        if op == "=" {
            if let (src, srcWide) = register(rhs) {
                guard srcWide == wide else { throw fail("mixes 32- and 64-bit registers") }
                return [Instruction(opcode: 0xb0 | 0x08 | cls, dst: dst, src: src)]
            }
            if let mem = memoryOperand(rhs) {
                guard wide else { throw fail("loads go to 64-bit registers") }
                return [Instruction(opcode: 0x61 | mem.size, dst: dst, src: mem.base, offset: mem.offset)]
            }
            if rhs.hasSuffix(" ll"), wide, let v = integer(String(rhs.dropLast(3)).trimmingSpaces) {
                return Instruction.loadImm64(dst: dst, UInt64(bitPattern: v))
            }
            guard let v = integer(rhs) else { throw fail("bad operand '\(rhs)'") }
            guard let imm = Int32(exactly: v) ?? (!wide && v >= 0 && v <= Int64(UInt32.max) ? Int32(truncatingIfNeeded: v) : nil) else {
                throw fail("\(v) does not fit in 32 bits; write 'r\(dst) = \(v) ll'")
            }
            return [Instruction(opcode: 0xb0 | cls, dst: dst, immediate: imm)]
        }
        guard let aluOp = aluOps[String(op.dropLast())] else { throw fail("unknown operator '\(op)'") }
        if let (src, srcWide) = register(rhs) {
            guard srcWide == wide else { throw fail("mixes 32- and 64-bit registers") }
            return [Instruction(opcode: aluOp | 0x08 | cls, dst: dst, src: src)]
        }
        guard let imm = integer(rhs).flatMap({ Int32(exactly: $0) }) else { throw fail("bad operand '\(rhs)'") }
        return [Instruction(opcode: aluOp | cls, dst: dst, immediate: imm)]
    }

    private static let aluOps: [String: UInt8] = ["+": 0x00, "-": 0x10, "*": 0x20, "/": 0x30, "|": 0x40, "&": 0x50,
                                                  "<<": 0x60, ">>": 0x70, "%": 0x90, "^": 0xa0, "s>>": 0xc0]
    private static let jumpOps: [String: UInt8] = ["==": 0x10, ">": 0x20, ">=": 0x30, "&": 0x40, "!=": 0x50, "s>": 0x60,
                                                   "s>=": 0x70, "<": 0xa0, "<=": 0xb0, "s<": 0xc0, "s<=": 0xd0]
    /// BPF_W, BPF_H, BPF_B, BPF_DW size bits of LDX/STX/ST opcodes.
    private static let sizes: [String: UInt8] = ["u32": 0x00, "u16": 0x08, "u8": 0x10, "u64": 0x18]

    /// `lhs OP= rhs` with OP one of the ALU operators, or `lhs = rhs`; the operator is the first
    /// `=` outside the memory operand's parentheses, with the operator characters before it.
    private static func splitAssignment(_ line: String) -> (String, String, String)? {
        let chars = Array(line)
        var depth = 0
        for (i, c) in chars.enumerated() {
            if c == "(" { depth += 1 } else if c == ")" { depth -= 1 }
            guard c == "=", depth == 0 else { continue }
            var start = i
            while start > 0, "+-*/%&|^<>s".contains(chars[start - 1]), chars[start - 1] != " " { start -= 1 }
            let op = String(chars[start...i])
            // "*(u32 *)(r1 + 8) = r2": the '*' and ')' before '=' belong to the operand, not the operator.
            let lhs = String(chars[..<start]).trimmingSpaces
            let rhs = String(chars[(i + 1)...]).trimmingSpaces
            return lhs.isEmpty || rhs.isEmpty ? nil : (lhs, op, rhs)
        }
        return nil
    }

    /// `*(u32 *)(r1 + 48)`
    private static func memoryOperand(_ text: String) -> (size: UInt8, base: UInt8, offset: Int16)? {
        let s = text.filter { $0 != " " }
        guard s.hasPrefix("*("), s.hasSuffix(")"), let close = s.firstRange(of: "*)(") else { return nil }
        guard let size = sizes[String(s[s.index(s.startIndex, offsetBy: 2)..<close.lowerBound])] else { return nil }
        let inner = s[close.upperBound..<s.index(before: s.endIndex)]
        guard let signIndex = inner.firstIndex(where: { $0 == "+" || $0 == "-" }) else {
            guard let (r, wide) = register(String(inner)), wide else { return nil }
            return (size, r, 0)
        }
        guard let (r, wide) = register(String(inner[..<signIndex])), wide, let off = integer(String(inner[signIndex...])),
              let o = Int16(exactly: off) else { return nil }
        return (size, r, o)
    }

    /// r0..r10 (64-bit) or w0..w10 (32-bit).
    private static func register(_ t: String) -> (UInt8, Bool)? {
        guard let c = t.first, c == "r" || c == "w", let n = UInt8(t.dropFirst()), n <= 10 else { return nil }
        return (n, c == "r")
    }

    static func integer(_ t: String) -> Int64? {
        var body = Substring(t)
        var negative = false
        if body.first == "-" { negative = true; body = body.dropFirst() } else if body.first == "+" { body = body.dropFirst() }
        let magnitude: UInt64?
        if body.hasPrefix("0x") || body.hasPrefix("0X") { magnitude = UInt64(body.dropFirst(2), radix: 16) } else { magnitude = UInt64(body) }
        guard let m = magnitude else { return nil }
        if negative { return m <= UInt64(Int64.max) + 1 ? Int64(truncatingIfNeeded: 0 &- m) : nil }
        return Int64(truncatingIfNeeded: m)
    }

    private static func jumpOffset(_ t: String) -> Int16? {
        guard t.hasPrefix("+") || t.hasPrefix("-"), let v = integer(t) else { return nil }
        return Int16(exactly: v)
    }
}

extension String {
    var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        return String(drop(while: isSpace).reversed().drop(while: isSpace).reversed())
    }
}
