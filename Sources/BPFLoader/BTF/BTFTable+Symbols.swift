extension BTFTable {
    /// The id of this table's first type named exactly `name` of `kind` (FUNC, VAR, TYPEDEF, ...),
    /// found by one pass over the records: these lookups are few per object (attach targets,
    /// ksyms, kfuncs), and an index of every function in vmlinux would cost more than the scans.
    func firstType(named name: String, kind: BTFKind) -> UInt32? {
        let wanted = Array(name.utf8)
        for id in firstID..<typeCount {
            guard let r = self[id], r.kind == kind, r.nameOffset != 0 else { continue }
            if self.name(r.nameOffset).elementsEqual(wanted) { return id }
        }
        return nil
    }
}

extension BTFTable {
    /// Name → ids of every FUNC, VAR and TYPEDEF, built in one pass over the records.
    func symbolIndex() -> [String: [UInt32]] {
        var index: [String: [UInt32]] = [:]
        for id in firstID..<typeCount {
            guard let r = self[id], r.nameOffset != 0, r.kind == .func || r.kind == .var || r.kind == .typedef else { continue }
            index[nameString(r.nameOffset), default: []].append(id)
        }
        return index
    }
}

extension KernelBTF {
    /// vmlinux's functions, variables and typedefs by name: attach targets, kfuncs and ksyms are
    /// looked up here, so one pass over kernel BTF serves every lookup of the process.
    private static let vmlinuxSymbols: [String: [UInt32]] = (try? vmlinux().symbolIndex()) ?? [:]

    /// A named kernel type in vmlinux, then in module BTF; with the module's label when it is one.
    static func find(_ name: String, kind: BTFKind) throws -> (id: UInt32, table: BTFTable)? {
        let vmlinux = try vmlinux()
        let indexed = kind == .func || kind == .var || kind == .typedef
        if indexed {
            if let id = vmlinuxSymbols[name]?.first(where: { vmlinux[$0]?.kind == kind }) { return (id, vmlinux) }
        } else if let id = vmlinux.firstType(named: name, kind: kind) {
            return (id, vmlinux)
        }
        for module in modules() {
            if let id = module.firstType(named: name, kind: kind) { return (id, module) }
        }
        return nil
    }
}
