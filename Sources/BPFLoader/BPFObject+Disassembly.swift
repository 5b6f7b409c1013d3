/// One instance's code as text, with how it differs from the relocated program.
public struct InstanceDisassembly: Sendable {
    public var program: String
    public var instance: Int
    /// nil when the preprocessor skipped the instance.
    public var text: String?
    public var instructions: Int
    public var inserted: Int
    public var changed: Int
    public var removed: Int
}

extension BPFObject {
    /// Names map references the way the code holds them: by map name after `relocate(createMaps:
    /// false)` (the immediate is the map's index in `spec.maps`), by kernel id (`id:N`) once maps
    /// exist (the immediate is their fd).
    public var disassembler: Disassembler {
        if maps.isEmpty { return Disassembler(maps: .names(spec.maps.map(\.name))) }
        var table: [Int32: String] = [:]
        for m in maps + instanceMaps { table[m.fd.rawValue] = "id:\(m.id)" }
        return Disassembler(maps: .table(table))
    }

    /// Instance `n` of `program` after preprocessing, in `bpftool prog dump xlated` syntax, with
    /// function signatures and source lines from the object's BTF, and — when a stage changed the
    /// code — a marker column against the relocated program. nil before preprocessing or for an
    /// instance out of range.
    public func disassembly(of program: Program, instance n: Int) -> InstanceDisassembly? {
        guard let linked = program.linked, n >= 0, n < program.instances.count else { return nil }
        guard let code = program.instances[n].code else {
            return InstanceDisassembly(program: program.name, instance: n, text: nil, instructions: 0, inserted: 0, changed: 0, removed: 0)
        }
        let (marks, removed) = Disassembler.changes(from: linked.instructions, to: code.instructions)
        let differs = removed > 0 || marks.contains { $0 != .same }
        var functions: [Int: String] = [:]
        var lines: [Int: String] = [:]
        if let btf = spec.btf {
            for f in code.funcInfo { functions[f.instruction] = btf.functionSignature(f.typeID) }
            for l in code.lineInfo where lines[l.instruction] == nil {
                if let text = btf.string(at: l.lineOffset) { lines[l.instruction] = String(text.drop { $0 == " " || $0 == "\t" }) }
            }
        }
        let text = disassembler.listing(code.instructions, functions: functions, sourceLines: lines, changes: differs ? marks : nil)
        return InstanceDisassembly(program: program.name, instance: n, text: text, instructions: code.instructions.count,
                                   inserted: marks.filter { $0 == .inserted }.count, changed: marks.filter { $0 == .changed }.count,
                                   removed: removed)
    }
}
