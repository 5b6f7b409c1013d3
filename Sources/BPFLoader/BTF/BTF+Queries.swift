extension BTF {
    /// The first type under typedefs and qualifiers. Stops after `maxChainDepth` steps, so a
    /// hostile loop returns some modifier's id instead of spinning.
    func skipModifiers(_ id: UInt32) -> UInt32 {
        var current = id
        for _ in 0..<Self.maxChainDepth {
            guard let t = type(current), t.kind.isModifier else { return current }
            current = t.sizeOrType
        }
        return current
    }

    /// The size in bytes of a value of this type, as the kernel computes it.
    func size(of id: UInt32) throws -> Int {
        func fail(_ message: String) -> LoaderError {
            LoaderError(.open, file: path, at: "section '.BTF'", "type [\(id)]: \(message)")
        }
        var current = id
        var count = 1
        for _ in 0..<Self.maxChainDepth {
            guard let t = type(current) else { throw fail("refers to type [\(current)], which does not exist") }
            switch t.kind {
            case .int, .enum, .enum64, .struct, .union, .datasec, .float, .ptr:
                let (total, overflow) = count.multipliedReportingOverflow(by: t.kind == .ptr ? 8 : Int(t.sizeOrType))
                guard !overflow else { throw fail("size overflows") }
                return total
            case .array:
                let a = t.array!
                let (total, overflow) = count.multipliedReportingOverflow(by: Int(a.nelems))
                guard !overflow else { throw fail("array size overflows") }
                count = total
                current = a.elemType
            case .typedef, .volatile, .const, .restrict, .typeTag, .var:
                current = t.sizeOrType
            case .void, .fwd, .func, .funcProto, .declTag:
                throw fail("\(t.kind) '\(t.name)' (type [\(current)]) has no size")
            }
        }
        throw fail("type chain is deeper than \(Self.maxChainDepth) (a loop?)")
    }

    /// The natural alignment of a scalar or an array of scalars, which is all a `.kconfig` extern can
    /// be (libbpf refuses others too); aggregates would need a walk a hostile blob could make explode.
    func alignment(of id: UInt32) throws -> Int {
        var current = id
        for _ in 0..<Self.maxChainDepth {
            current = skipModifiers(current)
            guard let t = type(current) else { break }
            switch t.kind {
            case .array: current = t.array!.elemType
            case .var: current = t.sizeOrType
            case .int, .enum, .enum64, .float, .ptr:
                let size = try size(of: current)
                return size >= 8 ? 8 : size >= 4 ? 4 : size >= 2 ? 2 : 1
            default:
                throw LoaderError(.open, file: path, at: "section '.BTF'", "type [\(id)]: no scalar alignment for \(t.kind) '\(t.name)'")
            }
        }
        throw LoaderError(.open, file: path, at: "section '.BTF'", "type [\(id)]: type chain is deeper than \(Self.maxChainDepth) (a loop?)")
    }

    /// The lowest id of a type with this name and kind.
    func firstType(named name: String, kind: BTFKind) -> UInt32? {
        types.indices.first { types[$0].kind == kind && types[$0].name == name }.map { UInt32($0) }
    }

    /// A DATASEC and its entries, each named through the VAR (or extern FUNC) it points at.
    func datasec(named name: String) -> (id: UInt32, vars: [(name: String, typeID: UInt32, offset: UInt32, size: UInt32)])? {
        guard let id = firstType(named: name, kind: .datasec) else { return nil }
        let vars = types[Int(id)].datasecVars.map { v in
            (name: type(v.type)?.name ?? "", typeID: v.type, offset: v.offset, size: v.size)
        }
        return (id, vars)
    }
}
