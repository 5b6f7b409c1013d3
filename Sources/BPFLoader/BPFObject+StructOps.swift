/// struct_ops across the steps: at relocation each `.struct_ops` variable is resolved against
/// kernel BTF (which also tells its programs their attach_btf_id and member index); after the
/// programs load, each map's value is written with their fds, which registers a `.struct_ops`
/// map's ops with its subsystem (a `.struct_ops.link` map only stores it; a link registers it).
extension BPFObject {
    /// Resolves every struct_ops map once; maps are created with the kernel wrapper's size.
    func resolveStructOps() throws {
        for i in spec.maps.indices {
            guard let ops = spec.maps[i].structOps, ops.kernel == nil else { continue }
            guard let btf = spec.btf else { continue }   // open refuses struct_ops without BTF
            let layout = try StructOps.kernelLayout(ops, btf: btf, map: spec.maps[i].name, path: path)
            spec.maps[i].structOps?.kernel = layout
            spec.maps[i].valueSize = UInt32(layout.value.count)
            for slot in layout.functions {
                try bindStructOpsProgram(slot, kernelTypeID: layout.typeID, map: spec.maps[i].name)
            }
        }
    }

    /// libbpf's rule: a program implements one member of one kernel struct; it may be shared by
    /// several maps only for that same member.
    private func bindStructOpsProgram(_ slot: StructOpsKernelLayout.Slot, kernelTypeID: UInt32, map: String) throws {
        guard let p = program(named: slot.program) else {
            throw LoaderError(.relocate, file: path, at: "struct_ops map '\(map)'", "names program '\(slot.program)', which the object does not have")
        }
        let member = UInt32(slot.memberIndex)
        if let bound = p.structOpsAttachBTFID, bound != kernelTypeID || p.kind?.expectedAttachType != member {
            throw LoaderError(.relocate, file: path, at: "program '\(p.name)'",
                              "is used for two different struct_ops members (struct_ops map '\(map)' and another); a program can implement only one", program: p.name)
        }
        p.structOpsAttachBTFID = kernelTypeID
        p.kind?.expectedAttachType = member
    }

    /// Writes each struct_ops map's value, with program fds, into element 0. For a `.struct_ops`
    /// map that registers the ops (the kernel then holds the map until the element is deleted),
    /// so it happens only with `LoadOptions.registerStructOps`.
    func registerStructOps() throws {
        for map in maps where map.reusedFrom == nil {
            let isLink = map.definition.flags & StructOps.linkFlag != 0
            // Without registration a non-link map keeps no value: the kernel's update is the registration.
            guard options.registerStructOps || isLink else { continue }
            guard let layout = map.definition.structOps?.kernel else { continue }
            let value = try StructOps.value(layout) { name in
                guard let p = program(named: name), p.isLoaded else {
                    throw LoaderError(.load, file: path, at: "struct_ops map '\(map.name)'", "names program '\(name)', which is not loaded")
                }
                return try p.fd().rawValue
            }
            if case .failure(let e) = BPFCommand.updateElement(map: map.fd, key: [0, 0, 0, 0], value: value) {
                throw registrationError(map, e)
            }
            if !isLink { registeredStructOps.append(map) }
        }
    }

    private func registrationError(_ map: Map, _ e: Errno) -> LoaderError {
        let type = map.definition.structOps?.typeName ?? "?"
        let hint: String? = switch e {
        case .fileExists: "an ops with the same name is registered already (a name must be unique, e.g. tcp_congestion_ops.name); unregister it or rename"
        case .invalidArgument: "the kernel's check of struct \(type) failed: a required member may be missing (for tcp_congestion_ops: ssthresh, undo_cwnd and cong_avoid or cong_control)"
        default: nil
        }
        return LoaderError(.load, file: path, at: "struct_ops map '\(map.name)'",
                           "kernel refused to \(map.definition.flags & StructOps.linkFlag == 0 ? "register" : "store") struct \(type)",
                           errno: e, hint: hint)
    }

    /// Deleting element 0 is the only way to unregister: a registered map is held by its
    /// subsystem, so closing its fds (or removing its pins) alone leaves the ops in place.
    func unregisterStructOps() {
        for map in registeredStructOps.reversed() {
            _ = BPFCommand.deleteElement(map: map.fd, key: [0, 0, 0, 0])
        }
        registeredStructOps = []
    }
}
