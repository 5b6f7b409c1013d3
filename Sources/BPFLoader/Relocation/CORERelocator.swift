/// Resolves an object's CO-RE relocations against a target BTF (libbpf `bpf_core_calc_relo_insn`):
/// finds the kernel types with the local type's essential name, matches the access on each, and
/// insists that every match gives the same answer.
struct CORERelocator {
    let local: BTFTable
    let target: CORETarget
    /// Candidates per local root type; narrowed to the ones that matched once some did, as libbpf does.
    private var candidates: [UInt32: [BTFRecord]] = [:]

    init(local: BTFTable, target: CORETarget) {
        self.local = local
        self.target = target
    }

    /// The result for one record and the local spec it was computed from (for messages).
    mutating func resolve(_ record: CORERelocationRecord, kind: CORERelocationKind) throws(COREFailure) -> (COREResult, CORESpec) {
        guard let root = local[record.typeID] else { throw COREFailure("root type [\(record.typeID)] does not exist in the object's BTF") }
        let access = local.nameString(record.accessStrOffset)
        let spec = try CORESpec.parse(local, typeID: record.typeID, access: access, kind: kind)
        if kind == .typeIDLocal {
            return (COREResult(original: UInt64(record.typeID), new: UInt64(record.typeID), validate: false), spec)
        }
        let name = local.essentialName(root.nameOffset)
        guard !name.isEmpty else { throw COREFailure("\(kind.shortName) relocations of anonymous types are not supported (as in libbpf)") }
        let cands = candidates[record.typeID] ?? target.candidates(for: root, named: String(decoding: name, as: UTF8.self))
        var chosen: (result: COREResult, spec: CORESpec)?
        var matching: [BTFRecord] = []
        for cand in cands {
            guard let match = try spec.matched(in: cand.table, candidate: cand.id) else { continue }
            let result = try COREResult(kind: kind, local: spec, target: match)
            if let chosen {
                guard match.bitOffset == chosen.spec.bitOffset else {
                    throw COREFailure("ambiguous: kernel types [\(chosen.spec.rootTypeID)] and [\(cand.id)] put the field at different offsets (bit \(chosen.spec.bitOffset) vs \(match.bitOffset))")
                }
                guard result.poison == chosen.result.poison, result.new == chosen.result.new else {
                    throw COREFailure("ambiguous: kernel types [\(chosen.spec.rootTypeID)] \(cand.table.typeName(chosen.spec.rootTypeID)) and [\(cand.id)] \(cand.table.typeName(cand.id)) give different values (\(chosen.result.new) vs \(result.new))")
                }
            } else {
                chosen = (result, match)
            }
            matching.append(cand)
        }
        candidates[record.typeID] = matching.isEmpty ? cands : matching
        if let chosen { return (chosen.result, spec) }
        return (try COREResult(kind: kind, local: spec, target: nil), spec)
    }
}

extension Linker {
    /// Applies the CO-RE relocations of every placed function to the linked code; returns, by
    /// instruction, what each poisoned instruction stood for, so that a verifier error there can
    /// say which access failed.
    func applyCORERelocations(_ program: ProgramSpec, functions: [FunctionSpec], placed: [FunctionKey: Int],
                              code: inout [Instruction]) throws -> [Int: String] {
        guard let ext = spec.btfExt, let btf = spec.btf else { return [:] }
        let work = functions.map { f in
            (f, (ext.coreRelocations[f.sectionName] ?? []).enumerated().filter { (f.start * 8..<f.end * 8).contains(Int($0.element.insnOffset)) })
        }
        guard work.contains(where: { !$0.1.isEmpty }) else { return [:] }
        let target = try coreTarget ?? CORETarget.runningKernel()
        // The object's BTF as a table is the same for every program: parsed once per relocation.
        if localBTF.table == nil { localBTF.table = try BTFTable(bytes: btf.raw, label: spec.path) }
        var relocator = CORERelocator(local: localBTF.table!, target: target)
        var poisoned: [Int: String] = [:]
        for (f, records) in work {
            for (number, record) in records {
                let at = placed[f.key]! + Int(record.insnOffset) / 8 - f.start
                func fail(_ message: String) -> LoaderError {
                    error(program, "CO-RE relocation #\(number) (\(record.kind?.shortName ?? "kind \(record.rawKind)")) at instruction \(at) in function '\(f.name)': \(message)")
                }
                guard record.insnOffset % 8 == 0 else { throw fail("offset \(record.insnOffset) is not at an instruction") }
                guard let kind = record.kind else { throw fail("unknown relocation kind \(record.rawKind)") }
                switch Linker.relocate(&relocator, record, kind: kind, code: &code, at: at) {
                case .success(let reason?): poisoned[at] = "CO-RE relocation #\(number): \(reason)"
                case .success(nil): break
                case .failure(let failure): throw fail(failure.message)
                }
            }
        }
        return poisoned
    }

    /// Resolves and patches one record; the reason when the instruction was poisoned.
    private static func relocate(_ relocator: inout CORERelocator, _ record: CORERelocationRecord, kind: CORERelocationKind,
                                 code: inout [Instruction], at: Int) -> Result<String?, COREFailure> {
        do {
            let (result, spec) = try relocator.resolve(record, kind: kind)
            guard try COREPatch.apply(result, to: &code, at: at) else { return .success(nil) }
            return .success(poisonReason(kind, spec, result, relocator.target))
        } catch {
            return .failure(error)
        }
    }

    private static func poisonReason(_ kind: CORERelocationKind, _ spec: CORESpec, _ result: COREResult, _ target: CORETarget) -> String {
        if kind.isEnumValueBased { return "enum value '\(spec.sourceDescription)' not found in \(target.description)" }
        let what = "field access '\(spec.sourceDescription)' (\(spec.accessString))"
        if result.poison { return "\(what) not found in \(target.description)" }
        return "\(what) has a \(result.newSize)-byte type in \(target.description) instead of \(result.originalSize) bytes, which the \(result.originalSize)-byte load cannot read correctly"
    }
}
