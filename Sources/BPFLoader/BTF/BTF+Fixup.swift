/// Section names clang gives to the DATASECs of `__kconfig` and `__ksym` externs, which no ELF
/// section backs: the loader lays them out itself.
let kconfigSectionName = ".kconfig"
let ksymsSectionName = ".ksyms"

extension BTF {
    /// A copy with each DATASEC's size and variable offsets filled in from the ELF object, which
    /// clang leaves at 0 and the kernel refuses (libbpf `btf_fixup_datasec`). Static and extern
    /// variables keep the offsets clang gave them; entries end up sorted by offset, as the kernel
    /// requires. DATASECs no section backs (`.kconfig`, `.ksyms`) are left for `sanitizedForKernel`.
    func fixingDatasecs(sectionSize: (String) -> Int?, symbolOffset: (String) -> UInt32?) -> BTF {
        var copy = self
        for (id, t) in types.enumerated() where t.kind == .datasec {
            guard t.name != kconfigSectionName, t.name != ksymsSectionName else { continue }
            var size = t.sizeOrType
            let fixOffsets = size == 0
            if fixOffsets {
                guard let sectionSize = sectionSize(t.name), let s = UInt32(exactly: sectionSize), s > 0 else { continue }
                size = s
            }
            var vars = t.datasecVars
            if fixOffsets {
                for i in vars.indices {
                    let v = types[Int(vars[i].type)]
                    guard v.varLinkage == BTFVarLinkage.globalAllocated, let offset = symbolOffset(v.name) else { continue }
                    vars[i].offset = offset
                }
            }
            copy.rewriteDatasec(id, size: size, vars: vars.sorted { $0.offset < $1.offset })
        }
        return copy
    }

    /// A copy the kernel accepts even when the object has externs (libbpf
    /// `bpf_object__collect_externs`): `.ksyms` entries become 4-byte allocated `int` variables
    /// (extern functions are swapped for a placeholder variable and made global), `.kconfig`
    /// variables become allocated and are laid out in DATASEC order at their natural alignment —
    /// the `.kconfig` map must use the offsets this copy reports through `datasec(named:)`. FUNCs
    /// with extern linkage become global, which kernels before extern support also accept.
    /// BTF without externs comes back byte for byte the same.
    func sanitizedForKernel() -> BTF {
        var btf = self
        if let id = btf.firstType(named: ksymsSectionName, kind: .datasec), btf.types[Int(id)].sizeOrType == 0 {
            btf = btf.layingOutKsyms(id)
        }
        if let id = btf.firstType(named: kconfigSectionName, kind: .datasec), btf.types[Int(id)].sizeOrType == 0 {
            btf.layOutKconfig(id)
        }
        for (id, t) in btf.types.enumerated() where t.kind == .func && t.funcLinkage == BTFFuncLinkage.extern {
            btf.setFuncLinkage(id, BTFFuncLinkage.global)
        }
        return btf
    }

    /// Global functions the object hides (`__hidden`, STV_HIDDEN) become static in BTF, as libbpf
    /// does: the verifier then checks them in their callers' context instead of on their own,
    /// which code such as libbpf's usdt.bpf.h relies on (its helpers take nullable pointers).
    func makingStatic(functionsNamed hidden: Set<String>) -> BTF {
        guard !hidden.isEmpty else { return self }
        var btf = self
        for (id, t) in btf.types.enumerated() where t.kind == .func && t.funcLinkage == BTFFuncLinkage.global && hidden.contains(t.name) {
            btf.setFuncLinkage(id, BTFFuncLinkage.static)
        }
        return btf
    }

    private func layingOutKsyms(_ secID: UInt32) -> BTF {
        var btf = self
        var intID = btf.types.indices.first { btf.types[$0].isPlainInt32 }.map { UInt32($0) }
        if intID == nil {
            guard let grown = btf.appending([.int32]) else { return self }
            btf = grown
            intID = UInt32(btf.types.count - 1)
        }
        guard let intID else { return self }
        let entries = btf.types[Int(secID)].datasecVars
        var dummyVar: UInt32?
        if entries.contains(where: { btf.types[Int($0.type)].kind == .func }) {
            guard let grown = btf.appending([.placeholderVar(type: intID)]) else { return self }
            btf = grown
            dummyVar = UInt32(btf.types.count - 1)
        }
        var vars = entries
        for i in vars.indices {
            let entry = btf.types[Int(vars[i].type)]
            if entry.kind == .func, let dummyVar {
                // The kernel wants a VAR in a DATASEC and named parameters in a global FUNC's prototype.
                btf.setFuncLinkage(Int(vars[i].type), BTFFuncLinkage.global)
                btf.nameUnnamedParams(of: entry.sizeOrType, nameOffset: btf.types[Int(dummyVar)].nameOffset)
                vars[i].type = dummyVar
            } else {
                btf.setVar(Int(vars[i].type), linkage: BTFVarLinkage.globalAllocated, type: intID)
            }
            vars[i].offset = UInt32(4 * i)
            vars[i].size = 4
        }
        btf.rewriteDatasec(Int(secID), size: UInt32(4 * vars.count), vars: vars)
        return btf
    }

    private mutating func layOutKconfig(_ secID: UInt32) {
        var vars = types[Int(secID)].datasecVars
        var end = 0
        for i in vars.indices {
            let v = types[Int(vars[i].type)]
            guard let size = try? size(of: v.sizeOrType), let align = try? alignment(of: v.sizeOrType) else { return }
            let offset = (end + align - 1) / align * align
            end = offset + size
            guard let o = UInt32(exactly: offset), let s = UInt32(exactly: size) else { return }
            vars[i].offset = o
            vars[i].size = s
        }
        guard let total = UInt32(exactly: end) else { return }
        for v in vars { setVar(Int(v.type), linkage: BTFVarLinkage.globalAllocated, type: types[Int(v.type)].sizeOrType) }
        rewriteDatasec(Int(secID), size: total, vars: vars)
    }
}

// MARK: - In-place patches: each writes the raw record and keeps the parsed type in step.

extension BTF {
    private mutating func rewriteDatasec(_ id: Int, size: UInt32, vars: [BTFVarSecInfo]) {
        let t = types[id]
        guard t.kind == .datasec, t.vlen == vars.count else { return }
        raw.putLE(size, at: t.sizeFieldOffset)
        var placed: [BTFVarSecInfo] = []
        for (i, v) in vars.enumerated() {
            let at = t.recordOffset + 12 + 12 * i
            raw.putLE(v.type, at: at)
            raw.putLE(v.offset, at: at + 4)
            raw.putLE(v.size, at: at + 8)
            placed.append(BTFVarSecInfo(type: v.type, offset: v.offset, size: v.size, recordOffset: at))
        }
        types[id].sizeOrType = size
        types[id].payload = .datasec(placed)
    }

    private mutating func setVar(_ id: Int, linkage: UInt32, type: UInt32) {
        guard types[id].kind == .var else { return }
        raw.putLE(type, at: types[id].recordOffset + 8)
        raw.putLE(linkage, at: types[id].recordOffset + 12)
        types[id].sizeOrType = type
        types[id].payload = .variable(linkage: linkage)
    }

    private mutating func setFuncLinkage(_ id: Int, _ linkage: Int) {
        guard types[id].kind == .func else { return }
        raw.putLE(UInt32(BTFKind.func.rawValue) << 24 | UInt32(linkage), at: types[id].recordOffset + 4)
        types[id].vlen = linkage
    }

    private mutating func nameUnnamedParams(of protoID: UInt32, nameOffset: UInt32) {
        let id = Int(protoID)
        guard id < types.count, types[id].kind == .funcProto else { return }
        var params = types[id].params
        for i in params.indices where params[i].nameOffset == 0 && params[i].type != 0 {
            raw.putLE(nameOffset, at: types[id].recordOffset + 12 + 8 * i)
            params[i].nameOffset = nameOffset
            params[i].name = string(at: nameOffset) ?? ""
        }
        types[id].payload = .params(params)
    }

    /// A new blob with the given types after the existing ones; nil if it somehow does not parse.
    /// Rebuilding rather than patching is the only way to grow the type section.
    private func appending(_ additions: [NewType]) -> BTF? {
        var newStrings = strings
        var newTypes = Array(raw[typesRange])
        for add in additions {
            let nameOffset = UInt32(newStrings.count)
            newStrings += Array(add.name.utf8) + [0]
            newTypes += .le(nameOffset) + .le(add.info) + .le(add.sizeOrType) + add.tail
        }
        var blob: [UInt8] = .le(Self.magic) + [1, 0] + .le(UInt32(Self.headerSize))
        blob += .le(UInt32(0)) + .le(UInt32(newTypes.count)) + .le(UInt32(newTypes.count)) + .le(UInt32(newStrings.count))
        return try? BTF(bytes: blob + newTypes + newStrings, path: path)
    }
}

private struct NewType {
    var name: String
    var info: UInt32
    var sizeOrType: UInt32
    var tail: [UInt8]

    static let int32 = NewType(name: "int", info: UInt32(BTFKind.int.rawValue) << 24, sizeOrType: 4,
                               tail: .le(UInt32(1) << 24 | 32))   // BTF_INT_SIGNED, 32 bits

    static func placeholderVar(type: UInt32) -> NewType {
        NewType(name: "dummy_ksym", info: UInt32(BTFKind.var.rawValue) << 24, sizeOrType: type,
                tail: .le(BTFVarLinkage.globalAllocated))
    }
}

private extension BTFType {
    var isPlainInt32: Bool {
        if kind == .int, sizeOrType == 4, case .int(_, 0, 32) = payload { return true }
        return false
    }
}
