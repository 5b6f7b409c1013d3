import CBPFSys

/// One `BPF_PROG_LOAD`: first without a log (fast path), then, on failure, once more with a
/// verifier log. Since Linux 6.4 a full log buffer keeps the log's tail (the part that explains
/// the refusal), so one retry with a fixed buffer is enough: a program the verifier gives up on
/// after a million instructions is verified twice, not once per doubling of the buffer. Older
/// kernels keep the head, so there the buffer grows until the whole log fits.
struct ProgramLoadRequest: Sendable {
    var kind: ProgramKind
    var code: LinkedProgram
    var name: String
    var license: String
    var kernelVersion: UInt32
    var btfFD: FileDescriptor?
    var attachBTFID: UInt32 = 0

    static let initialLogSize = 1 << 18
    static let maximumLogSize = 1 << 28
    /// The one buffer of a rotating log: its tail, far more than the lines anyone reads.
    static let rotatingLogSize = 1 << 22
    /// What an error keeps of a log: the last lines, not megabytes of states.
    static let keptLogBytes = 1 << 16

    /// Linux 6.4 and later rotate the verifier log instead of failing a full buffer.
    static let kernelRotatesLog: Bool = KernelRelease.current.map { $0 >= (6, 4) } ?? false

    func load(btf: BTF?) throws -> FileDescriptor {
        if kind.needsAttachBTFID && attachBTFID == 0 {
            // Without attach_btf_id the kernel answers EPERM or EINVAL with no log, which reads as a
            // capability problem; say what is missing instead (freplace, struct_ops).
            let target = kind.attachTarget.map { "'\($0)'" } ?? "its target"
            if kind.type == BPF_PROG_TYPE_STRUCT_OPS.rawValue {
                throw LoaderError(.load, "struct_ops programs take their attach_btf_id from the .struct_ops variable that uses them, and none uses this one",
                                  hint: "put the program into a function-pointer member of a SEC(\".struct_ops\") variable, or turn its autoload off")
            }
            let what = kind.type == BPF_PROG_TYPE_EXT.rawValue
                ? "\(kind.typeName) (freplace) programs need the fd and BTF id of the program whose function \(target) they replace"
                : "\(kind.typeName) programs need the BTF id of \(target) (attach_btf_id)"
            throw LoaderError(.load, "\(what), which bpfpipe does not resolve yet",
                              hint: "load this program with bpftool or libbpf, or turn its autoload off")
        }
        var attrs = BPFCommand.ProgramAttributes(type: kind.type, instructions: code.instructions, license: license, name: name)
        attrs.kernelVersion = kernelVersion
        attrs.expectedAttachType = kind.expectedAttachType
        attrs.flags = kind.loadFlags
        attrs.attachBTFID = attachBTFID
        if let btfFD {
            attrs.btfFD = btfFD.rawValue
            attrs.funcInfo = code.funcInfo.flatMap { [UInt32($0.instruction), $0.typeID] }
            attrs.lineInfo = code.lineInfo.flatMap { [UInt32($0.instruction), $0.fileNameOffset, $0.lineOffset, $0.lineColumn] }
        }
        let first: KernelRejection
        switch withExtendedLifetime(btfFD, { BPFCommand.loadProgram(attrs) }) {
        case .success(let fd): return fd
        case .failure(let r): first = r
        }
        if Self.kernelRotatesLog {
            switch withExtendedLifetime(btfFD, { BPFCommand.loadProgram(attrs, logLevel: 1, logSize: Self.rotatingLogSize) }) {
            case .success(let fd):
                return fd
            case .failure(let r):
                // ENOSPC here only says the log was cut; the refusal is the first attempt's.
                throw rejectionError(KernelRejection(errno: r.errno == .noSpace ? first.errno : r.errno,
                                                     log: Self.tail(r.log, truncated: r.errno == .noSpace)), btf: btf)
            }
        }
        var size = ProgramLoadRequest.initialLogSize
        var rejection = first
        while size <= ProgramLoadRequest.maximumLogSize {
            let r = withExtendedLifetime(btfFD) { BPFCommand.loadProgram(attrs, logLevel: 1, logSize: size) }
            switch r {
            case .success(let fd):
                // Loading with a log succeeded where the plain load failed (a transient error).
                return fd
            case .failure(let rej) where rej.errno == .noSpace && size < ProgramLoadRequest.maximumLogSize:
                size *= 4
                continue
            case .failure(let rej):
                rejection = rej
            }
            break
        }
        throw rejectionError(KernelRejection(errno: rejection.errno, log: Self.tail(rejection.log, truncated: false)), btf: btf)
    }

    /// The last `keptLogBytes` of a log, from a line start. A rotated log begins mid-line.
    static func tail(_ log: String, truncated: Bool) -> String {
        var utf8 = Substring(log).utf8
        guard truncated || utf8.count > keptLogBytes else { return log }
        if utf8.count > keptLogBytes { utf8 = utf8.suffix(keptLogBytes) }
        guard let newline = utf8.firstIndex(of: UInt8(ascii: "\n")) else { return String(Substring(utf8)) }
        return String(Substring(utf8[utf8.index(after: newline)...]))
    }

    private func rejectionError(_ r: KernelRejection, btf: BTF?) -> LoaderError {
        var location: String?
        var relocation: String?
        if let insn = VerifierLog.failingInstruction(r.log) {
            // A reachable poisoned instruction: say which CO-RE access the kernel lacks.
            relocation = code.coreFailures[insn]
            location = "instruction \(insn)"
            if let line = code.lineInfo.last(where: { $0.instruction <= insn }), let btf,
               let file = btf.string(at: line.fileNameOffset), let text = btf.string(at: line.lineOffset) {
                location! += " (\(file):\(line.line): \(text.trimmingSpaces))"
            }
        }
        var hint: String?
        if r.errno == .operationNotPermitted {
            hint = "loading programs needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN); run as root"
        }
        if relocation != nil {
            hint = "guard the access with bpf_core_field_exists()/bpf_core_type_exists(), or fix the local type definition"
        }
        return LoaderError(.load, at: location, "kernel verifier rejected the program (\(code.instructions.count) instructions, type \(kind.typeName))"
                           + (relocation.map { ": \($0)" } ?? ""),
                           errno: r.errno, verifierLog: r.log, hint: hint)
    }
}

/// Reading the verifier's log.
enum VerifierLog {
    /// The index of the last instruction the verifier printed ("12: (85) call ..."), which is the
    /// one it stopped at.
    static func failingInstruction(_ log: String) -> Int? {
        var last: Int?
        for line in log.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":"), let n = Int(line[..<colon]) else { continue }
            let rest = line[line.index(after: colon)...]
            if rest.hasPrefix(" (") { last = n }
        }
        return last
    }
}

extension String {
    var trimmingSpaces: String {
        let s = drop { $0 == " " || $0 == "\t" }
        return String(s.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\n" }.reversed())
    }
}
