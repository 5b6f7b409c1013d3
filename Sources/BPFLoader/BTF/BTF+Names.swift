extension BTF {
    /// A C-like spelling of a type for people: `const volatile int`, `struct foo *`, `char[4]`.
    func typeName(_ id: UInt32, depth: Int = 0) -> String {
        guard depth < 16, let t = type(id) else { return "?" }
        switch t.kind {
        case .void: return "void"
        case .int, .float, .typedef: return t.name
        case .struct: return "struct \(t.name.isEmpty ? "(anon)" : t.name)"
        case .union: return "union \(t.name.isEmpty ? "(anon)" : t.name)"
        case .enum, .enum64: return "enum \(t.name.isEmpty ? "(anon)" : t.name)"
        case .fwd: return (t.kindFlag ? "union " : "struct ") + t.name
        case .ptr: return typeName(t.sizeOrType, depth: depth + 1) + " *"
        case .const: return "const " + typeName(t.sizeOrType, depth: depth + 1)
        case .volatile: return "volatile " + typeName(t.sizeOrType, depth: depth + 1)
        case .restrict: return typeName(t.sizeOrType, depth: depth + 1) + " restrict"
        case .typeTag: return typeName(t.sizeOrType, depth: depth + 1)
        case .array:
            guard let a = t.array else { return "?" }
            return typeName(a.elemType, depth: depth + 1) + "[\(a.nelems)]"
        case .funcProto: return "function"
        case .func, .var, .datasec, .declTag: return t.name
        }
    }
}
