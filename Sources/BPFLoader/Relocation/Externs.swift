/// What an extern symbol of the object stands for in the running kernel.
enum ExternValue: Sendable, Equatable {
    /// A `__kconfig` variable: its offset in the object's `.kconfig` map.
    case kconfig(map: Int, offset: Int64)
    /// A typed `__ksym` variable: its id in kernel BTF (`BPF_PSEUDO_BTF_ID`).
    case ksymBTF(id: UInt32)
    /// A typeless `__ksym`: its address from /proc/kallsyms.
    case ksymAddress(UInt64)
    /// A kernel function called from BPF (`BPF_PSEUDO_KFUNC_CALL`).
    case kfunc(id: UInt32)
    /// A `__weak` extern the kernel does not have: reads as 0; calls are poisoned.
    case missingWeak
}

/// Resolves the object's externs (libbpf's `bpf_object__resolve_externs`): `.kconfig` variables
/// from the kernel config, `.ksyms` variables from kernel BTF or /proc/kallsyms, kfuncs from
/// kernel BTF. Only the externs of programs being loaded are looked up, once each: a program
/// left out (autoload off) may use an extern this kernel cannot give.
final class ExternResolver {
    let spec: ObjectSpec
    /// The object's BTF after the kernel fix-ups; its `.kconfig` DATASEC gives the map layout.
    let kernelReadyBTF: BTF?
    private var resolved: [String: ExternValue] = [:]

    init(spec: ObjectSpec, kernelReadyBTF: BTF?) {
        self.spec = spec
        self.kernelReadyBTF = kernelReadyBTF
    }

    /// `isCall`: the instruction calls the symbol, so it can only be a function.
    func value(of name: String, isCall: Bool) throws -> ExternValue {
        if let v = resolved[name] { return v }
        let v = try resolve(name, isCall: isCall)
        resolved[name] = v
        return v
    }

    private func resolve(_ name: String, isCall: Bool) throws -> ExternValue {
        let weak = spec.elf.symbols.contains { $0.name == name && $0.isUndefined && $0.binding == 2 /* STB_WEAK */ }
        if let layout = kernelReadyBTF?.datasec(named: kconfigSectionName), let v = layout.vars.first(where: { $0.name == name }),
           let map = spec.maps.firstIndex(where: { $0.origin == .globalData(section: kconfigSectionName) }) {
            return .kconfig(map: map, offset: Int64(v.offset))
        }
        if isCall || isFunction(name) {
            if let found = try KernelBTF.find(name, kind: .func), found.table.base == nil { return .kfunc(id: found.id) }
            if weak { return .missingWeak }
            throw failure(name, "is declared but not defined in this object, and is not a kernel function (kfunc) in kernel BTF")
        }
        if let typed = ksymIsTyped(name) {
            if typed {
                if let found = try KernelBTF.find(name, kind: .var), found.table.base == nil { return .ksymBTF(id: found.id) }
            } else if let address = Kallsyms.address(of: name) {
                return .ksymAddress(address)
            }
            if weak { return .missingWeak }
            throw failure(name, typed ? "is not a variable in kernel BTF" : "is not in /proc/kallsyms (is kernel.kptr_restrict hiding addresses?)")
        }
        if weak { return .missingWeak }
        throw failure(name, "is not a __kconfig or __ksym extern, so bpfpipe cannot resolve it")
    }

    /// True when the object's BTF declares `name` as a function (kfuncs are FUNCs with extern linkage).
    private func isFunction(_ name: String) -> Bool {
        guard let btf = spec.btf else { return false }
        return btf.firstType(named: name, kind: .func) != nil
    }

    /// For a `.ksyms` variable: whether it has a type (`extern const struct rq runqueues __ksym`)
    /// or is typeless (`extern const void sym __ksym`); nil when it is not in `.ksyms`.
    private func ksymIsTyped(_ name: String) -> Bool? {
        guard let btf = spec.btf, let ds = btf.datasec(named: ksymsSectionName),
              let v = ds.vars.first(where: { $0.name == name }), let variable = btf.type(v.typeID) else { return nil }
        return btf.skipModifiers(variable.sizeOrType) != 0
    }

    private func failure(_ name: String, _ why: String) -> LoaderError {
        LoaderError(.relocate, file: spec.path, at: "extern '\(name)'", why,
                    hint: "declare it __weak to load without it, or check the kernel's version and config")
    }
}

/// Fills the `.kconfig` map's initial value from the kernel config, typed by each variable's BTF.
enum KconfigData {
    static func bytes(layout: (id: UInt32, vars: [(name: String, typeID: UInt32, offset: UInt32, size: UInt32)]),
                      size: Int, btf: BTF, spec: ObjectSpec) throws -> [UInt8] {
        var data = [UInt8](repeating: 0, count: size)
        for v in layout.vars {
            guard let variable = btf.type(v.typeID) else { continue }
            let weak = spec.elf.symbols.contains { $0.name == v.name && $0.isUndefined && $0.binding == 2 }
            let value = try encode(name: v.name, typeID: variable.sizeOrType, btf: btf, weak: weak, path: spec.path)
            let end = Int(v.offset) + value.count
            guard end <= data.count else { continue }
            data.replaceSubrange(Int(v.offset)..<end, with: value)
        }
        return data
    }

    private static func encode(name: String, typeID: UInt32, btf: BTF, weak: Bool, path: String) throws -> [UInt8] {
        let size = (try? btf.size(of: typeID)) ?? 0
        let raw: String?
        switch name {
        case "LINUX_KERNEL_VERSION": raw = String(KernelConfig.linuxKernelVersion)
        case "LINUX_HAS_BPF_COOKIE", "LINUX_HAS_SYSCALL_WRAPPER": raw = "1"
        default: raw = KernelConfig.values[name]
        }
        guard let text = raw else {
            if weak { return [UInt8](repeating: 0, count: size) }
            throw LoaderError(.relocate, file: path, at: "extern '\(name)'", "the kernel config does not set \(name)",
                              hint: "declare it __weak to read 0 when it is not set")
        }
        let t = btf.type(btf.skipModifiers(typeID))
        // Strings go to char arrays; y/m/n to bools and tristates; numbers to integers.
        if t?.kind == .array {
            let s = text.hasPrefix("\"") && text.hasSuffix("\"") && text.count >= 2 ? String(text.dropFirst().dropLast()) : text
            var out = Array(s.utf8.prefix(max(0, size - 1)))
            out += [UInt8](repeating: 0, count: size - out.count)
            return out
        }
        let number: Int64
        switch text {
        case "y": number = 1
        case "n": number = 0
        case "m": number = t?.kind == .enum ? 2 : 1   // libbpf_tristate: TRI_MODULE = 2
        default:
            let lower = text.lowercased()
            guard let v = lower.hasPrefix("0x") ? Int64(lower.dropFirst(2), radix: 16) : Int64(text) else {
                throw LoaderError(.relocate, file: path, at: "extern '\(name)'", "kernel config value '\(text)' is not a number, y, m or n")
            }
            number = v
        }
        return (0..<max(size, 1)).prefix(size).map { UInt8(truncatingIfNeeded: UInt64(bitPattern: number) >> (8 * UInt64($0))) }
    }
}

/// /proc/kallsyms, for typeless ksyms: read once per process, on the first such extern.
enum Kallsyms {
    private static let table: [String: UInt64] = {
        guard let bytes = try? FileBytes.read(path: "/proc/kallsyms", step: .relocate) else { return [:] }
        var out: [String: UInt64] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ")
            // Zero addresses are what kptr_restrict shows instead of the real ones.
            guard fields.count >= 3, let a = UInt64(fields[0], radix: 16), a != 0 else { continue }
            out[String(fields[2])] = out[String(fields[2])] ?? a
        }
        return out
    }()

    static func address(of name: String) -> UInt64? { table[name] }
}
