/// One argument of the `fetch-args` stage, in the notation of perf's probe arguments:
///
///     di            the register's value (a pt_regs field), 64 bits
///     di:u32        the register's low 32 bits, zero-extended
///     +8(si)        the 64-bit value at address si + 8, read with bpf_probe_read_user/_kernel
///     -4(bp):u16    the 16-bit value at address bp - 4, zero-extended
///
/// A leading `%` on the register (`%di`, as in kprobe_events) is accepted.
struct FetchArgSpec: Equatable, CustomStringConvertible {
    /// `:u8` ... `:u64`; the width of the load.
    enum Size: Int, CaseIterable {
        case u8 = 1, u16 = 2, u32 = 4, u64 = 8
        var name: String { "u\(rawValue * 8)" }
    }

    /// The pt_regs field the value (or the address) comes from.
    var register: String
    /// nil: the register itself; otherwise the register plus this offset is dereferenced.
    var dereference: Int32?
    var size: Size

    /// Byte offset of `register` in the context.
    var contextOffset: Int16 { PtRegs.offsets[register]! }

    var description: String {
        let sized = size == .u64 ? "" : ":\(size.name)"
        guard let off = dereference else { return register + sized }
        return (off < 0 ? "\(off)" : "+\(off)") + "(\(register))" + sized
    }

    struct Failure: Error, CustomStringConvertible {
        var message: String
        var hint: String?
        var description: String { message }
    }

    /// Parses one spec; the failure says what is wrong (and, for a misspelt register, which one
    /// was probably meant).
    static func parse(_ text: String) throws(Failure) -> FetchArgSpec {
        let trimmed = text.trimmingSpaces
        guard !trimmed.isEmpty else { throw Failure(message: "empty argument spec", hint: "write a register such as di, or +OFF(REG)") }
        var body = Substring(trimmed)
        var size = Size.u64
        if let colon = body.lastIndex(of: ":") {
            let name = String(body[body.index(after: colon)...])
            guard let s = Size.allCases.first(where: { $0.name == name }) else {
                throw Failure(message: "unknown size ':\(name)' in '\(text)'", hint: "sizes are :u8, :u16, :u32 and :u64 (the default)")
            }
            size = s
            body = body[..<colon]
        }
        guard let open = body.firstIndex(of: "(") else {
            return FetchArgSpec(register: try register(String(body), in: text), dereference: nil, size: size)
        }
        guard body.last == ")" else { throw Failure(message: "'\(text)' does not end its dereference with ')'", hint: "write +OFF(REG), e.g. +8(si)") }
        let offsetText = String(body[..<open])
        let inner = String(body[body.index(after: open)..<body.index(before: body.endIndex)])
        guard offsetText.first == "+" || offsetText.first == "-" else {
            throw Failure(message: "the offset of '\(text)' needs a sign", hint: "write +\(offsetText.isEmpty ? "0" : offsetText)(\(inner)) or -\(offsetText.isEmpty ? "0" : offsetText)(\(inner))")
        }
        guard let value = Assembler.integer(offsetText), let offset = Int32(exactly: value) else {
            throw Failure(message: "bad offset '\(offsetText)' in '\(text)'", hint: "a decimal or 0x hex number that fits in 32 bits")
        }
        if inner.contains("(") {
            throw Failure(message: "nested dereferences ('\(text)') are not supported", hint: "one level: +OFF(REG)")
        }
        return FetchArgSpec(register: try register(inner, in: text), dereference: offset, size: size)
    }

    private static func register(_ raw: String, in text: String) throws(Failure) -> String {
        let name = raw.hasPrefix("%") ? String(raw.dropFirst()) : raw
        if PtRegs.offsets[name] != nil { return name }
        let near = Suggestion.nearest(to: name, in: PtRegs.names)
        throw Failure(message: "unknown register '\(name)' in '\(text)'" + (near.map { "; did you mean '\($0)'?" } ?? ""),
                      hint: "\(PtRegs.architecture) pt_regs registers: \(PtRegs.names.joined(separator: ", "))")
    }
}

/// The fields of the context a kprobe or uprobe program receives (`struct pt_regs`), for the
/// architecture bpfpipe was built for: the programs it loads run on this machine's kernel.
enum PtRegs {
    #if arch(x86_64)
    static let architecture = "x86_64"
    /// arch/x86/include/asm/ptrace.h, 64-bit layout (168 bytes); cs and ss share their slot with
    /// padding in a union, their offsets are the union's.
    static let layout: [(String, Int16)] = [
        ("r15", 0), ("r14", 8), ("r13", 16), ("r12", 24), ("bp", 32), ("bx", 40), ("r11", 48), ("r10", 56),
        ("r9", 64), ("r8", 72), ("ax", 80), ("cx", 88), ("dx", 96), ("si", 104), ("di", 112), ("orig_ax", 120),
        ("ip", 128), ("cs", 136), ("flags", 144), ("sp", 152), ("ss", 160),
    ]
    #else
    static let architecture = "this architecture"
    /// Only x86_64's layout is known; every name is refused elsewhere.
    static let layout: [(String, Int16)] = []
    #endif
    static let offsets = Dictionary(uniqueKeysWithValues: layout)
    static let names = layout.map(\.0)
}
