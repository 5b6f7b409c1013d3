import CBPFSys

/// How a struct_ops variable maps onto the running kernel: the kernel's `struct <name>`, the
/// `struct bpf_struct_ops_<name>` wrapper the map's value is, and where each member goes in it.
/// libbpf: `bpf_map__init_kern_struct_ops`.
struct StructOpsKernelLayout: Sendable, Equatable {
    /// `struct <name>` in vmlinux: struct_ops programs load with it as attach_btf_id.
    var typeID: UInt32
    /// `struct bpf_struct_ops_<name>`: the map is created with it as btf_vmlinux_value_type_id.
    var valueTypeID: UInt32
    /// The map value: the wrapper, with the object's data members copied into its `data` member.
    var value: [UInt8]
    /// Function-pointer members: which program fills it, its index in the kernel struct (the
    /// program's expected_attach_type) and where its fd goes in `value`.
    var functions: [Slot]

    struct Slot: Sendable, Equatable {
        var program: String
        var memberIndex: Int
        var valueOffset: Int
    }
}

extension StructOps {
    /// Resolves a struct_ops variable against kernel BTF and builds its map value (without fds).
    static func kernelLayout(_ ops: StructOpsDefinition, btf: BTF, map: String, path: String) throws -> StructOpsKernelLayout {
        func fail(_ message: String, hint: String? = nil) -> LoaderError {
            LoaderError(.relocate, file: path, at: "struct_ops map '\(map)'", message, hint: hint)
        }
        let (kernelType, wrapper) = try kernelTypes(ops.typeName, fail: fail)
        guard let dataMember = (0..<wrapper.vlen).map({ wrapper.member($0) }).first(where: { wrapper.table.nameString($0.nameOffset) == "data" }) else {
            throw fail("kernel struct bpf_struct_ops_\(ops.typeName) has no 'data' member")
        }
        var layout = StructOpsKernelLayout(typeID: kernelType.id, valueTypeID: wrapper.id,
                                           value: [UInt8](repeating: 0, count: Int(wrapper.sizeOrType)), functions: [])
        let dataOffset = Int(dataMember.bitOffset / 8)
        guard let local = btf.type(ops.localTypeID) else { throw fail("local struct \(ops.typeName) is missing from the object's BTF") }
        for (i, member) in local.members.enumerated() {
            try place(member, index: i, ops: ops, btf: btf, kernelType: kernelType, dataOffset: dataOffset, into: &layout, fail: fail)
        }
        return layout
    }

    /// `struct <name>` and `struct bpf_struct_ops_<name>` in vmlinux. The kernel registers a
    /// wrapper for every ops struct it accepts from BPF, so a missing wrapper means this kernel
    /// cannot take this struct_ops at all.
    private static func kernelTypes(_ name: String, fail: (String, String?) -> LoaderError) throws -> (BTFRecord, BTFRecord) {
        guard let found = try KernelBTF.find(name, kind: .struct) else {
            throw fail("the kernel has no struct \(name)", "the subsystem may be a module that is not loaded, or too old for this ops struct")
        }
        guard found.table.base == nil else {
            // A module's type also needs that module's BTF fd (value_type_btf_obj_fd, attach_btf_obj_fd).
            throw fail("struct \(name) is in module '\(found.table.label)'; struct_ops of modules are not supported yet", nil)
        }
        guard let wrapperID = found.table.firstType(named: "bpf_struct_ops_" + name, kind: .struct),
              let wrapper = found.table[wrapperID], let kernelType = found.table[found.id] else {
            throw fail("the kernel has no struct bpf_struct_ops_\(name): struct \(name) cannot be implemented in BPF on this kernel", nil)
        }
        return (kernelType, wrapper)
    }

    /// Puts one local member into the kernel layout: a program slot for a function pointer with a
    /// program, a copy of the bytes for data. Members are matched by name, as libbpf does, so the
    /// object's struct may order or omit members differently from the kernel's.
    private static func place(_ member: BTFMember, index: Int, ops: StructOpsDefinition, btf: BTF, kernelType: BTFRecord, dataOffset: Int,
                              into layout: inout StructOpsKernelLayout, fail: (String, String?) -> LoaderError) throws {
        let localOffset = Int(member.offset / 8)
        let localSize = (try? btf.size(of: member.type)) ?? 8
        let bytes = ops.data[min(localOffset, ops.data.count)..<min(localOffset + localSize, ops.data.count)]
        guard let k = kernelMember(named: member.name, in: kernelType) else {
            // libbpf lets a member the kernel lacks pass when the object leaves it unset.
            if ops.programs[index] == nil && bytes.allSatisfy({ $0 == 0 }) { return }
            throw fail("member '\(member.name)' of struct \(ops.typeName) does not exist in the kernel's struct",
                       "this kernel is older than the struct the object was built against; leave the member unset")
        }
        guard member.bitfieldSize == 0, k.member.bitfieldSize == 0 else {
            throw fail("member '\(member.name)' is a bitfield, which struct_ops cannot copy", nil)
        }
        let table = kernelType.table
        let kernelKind = table.skipModifiers(k.member.type)?.kind
        let localKind = btf.type(btf.skipModifiers(member.type))?.kind
        guard localKind == kernelKind else {
            throw fail("member '\(member.name)' is a \(localKind.map { "\($0)" } ?? "?") in the object but a \(kernelKind.map { "\($0)" } ?? "?") in the kernel", nil)
        }
        let at = dataOffset + Int(k.member.bitOffset / 8)
        if localKind == .ptr {
            guard let program = ops.programs[index] else { return }
            guard let ptr = table.skipModifiers(k.member.type), table.skipModifiers(ptr.sizeOrType)?.kind == .funcProto else {
                throw fail("member '\(member.name)' is not a function pointer in the kernel's struct \(ops.typeName)", nil)
            }
            layout.functions.append(.init(program: program, memberIndex: k.index, valueOffset: at))
            return
        }
        guard let kernelSize = table.size(of: k.member.type), kernelSize == localSize, bytes.count == localSize, at + localSize <= layout.value.count else {
            throw fail("member '\(member.name)' is \(localSize) bytes in the object but \(table.size(of: k.member.type).map(String.init) ?? "unsized") in the kernel",
                       "rebuild the object against this kernel's vmlinux.h")
        }
        layout.value.replaceSubrange(at..<at + localSize, with: bytes)
    }

    private static func kernelMember(named name: String, in st: BTFRecord)
        -> (index: Int, member: (nameOffset: UInt32, type: UInt32, bitOffset: UInt32, bitfieldSize: UInt32))? {
        for i in 0..<st.vlen {
            let m = st.member(i)
            if st.table.nameString(m.nameOffset) == name { return (i, m) }
        }
        return nil
    }

    /// The map value with each function pointer set to its program's fd, as the kernel wants it
    /// in `BPF_MAP_UPDATE_ELEM` (it swaps them for trampolines).
    static func value(_ layout: StructOpsKernelLayout, programFD: (String) throws -> Int32) rethrows -> [UInt8] {
        var value = layout.value
        for slot in layout.functions {
            let fd = UInt64(UInt32(bitPattern: try programFD(slot.program)))
            value.replaceSubrange(slot.valueOffset..<slot.valueOffset + 8, with: (0..<8).map { UInt8(truncatingIfNeeded: fd >> (8 * $0)) })
        }
        return value
    }
}

extension MapCreator {
    /// A struct_ops map names the kernel wrapper type as its value (btf_vmlinux_value_type_id),
    /// and the kernel still wants the object's BTF with it (btf_fd), as libbpf passes it; the
    /// object's own key/value type ids must stay 0.
    func createStructOps(_ def: MapDefinition, _ attrs: BPFCommand.MapAttributes) throws -> FileDescriptor {
        guard let layout = def.structOps?.kernel else {
            throw LoaderError(.relocate, file: spec.path, at: "struct_ops map '\(def.name)'", "not resolved against kernel BTF before creation")
        }
        guard let btfFD else {
            throw LoaderError(.relocate, file: spec.path, at: "struct_ops map '\(def.name)'",
                              "struct_ops maps need the object's BTF in the kernel, and the kernel refused it (see the warnings)")
        }
        var attrs = attrs
        attrs.valueSize = UInt32(layout.value.count)
        attrs.btfFD = btfFD.rawValue
        attrs.btfVmlinuxValueTypeID = layout.valueTypeID
        switch BPFCommand.createMap(attrs) {
        case .success(let fd): return fd
        case .failure(let e):
            throw LoaderError(.relocate, file: spec.path, at: "struct_ops map '\(def.name)'",
                              "kernel refused to create the struct_ops map for struct \(def.structOps?.typeName ?? "?") (value \(layout.value.count) B)",
                              errno: e, hint: e == .operationNotPermitted ? "creating struct_ops maps needs CAP_BPF and CAP_NET_ADMIN (or CAP_SYS_ADMIN)" : nil)
        }
    }
}
