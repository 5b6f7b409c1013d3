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

extension KernelBTF {
    /// A named kernel type in vmlinux, then in module BTF; with the module's label when it is one.
    static func find(_ name: String, kind: BTFKind) throws -> (id: UInt32, table: BTFTable)? {
        let vmlinux = try vmlinux()
        if let id = vmlinux.firstType(named: name, kind: kind) { return (id, vmlinux) }
        for module in modules() {
            if let id = module.firstType(named: name, kind: kind) { return (id, module) }
        }
        return nil
    }
}
