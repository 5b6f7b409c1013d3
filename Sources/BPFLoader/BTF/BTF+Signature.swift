extension BTF {
    /// A FUNC's C prototype as `bpftool prog dump` prints it above the function's code:
    /// `int handler(struct __sk_buff * skb)`; nil when `id` is not a FUNC with a FUNC_PROTO.
    func functionSignature(_ id: UInt32) -> String? {
        guard let f = type(id), f.kind == .func, let proto = type(f.sizeOrType), proto.kind == .funcProto else { return nil }
        let params = proto.params.map { p in p.type == 0 ? "..." : typeName(p.type) + " " + p.name }
        return typeName(proto.sizeOrType) + " " + f.name + "(" + params.joined(separator: ", ") + ")"
    }
}
