/// The BTF that CO-RE relocations are resolved against: the running kernel's by default, or a
/// given blob (libbpf's `btf_custom_path`, cilium's `KernelTypes`), e.g. to plan for another kernel.
public struct CORETarget: Sendable {
    let main: BTFTable
    /// Searched only when `main` has no candidate, as libbpf does with module BTF.
    let extra: @Sendable () -> [BTFTable]
    /// How messages name the target: "kernel BTF" or the file.
    let description: String

    /// The running kernel: vmlinux, then module BTF.
    public static func runningKernel() throws -> CORETarget {
        CORETarget(main: try KernelBTF.vmlinux(), extra: { KernelBTF.modules() }, description: "kernel BTF")
    }

    /// A raw BTF blob, or an ELF object's `.BTF` section.
    public static func file(_ path: String) throws -> CORETarget {
        let bytes = try FileBytes.read(path: path, step: .relocate)
        let isELF = bytes.starts(with: [0x7f, 0x45, 0x4c, 0x46])
        guard let blob = isELF ? try ObjectSpec.open(path: path).btf?.raw : bytes else {
            throw LoaderError(.relocate, file: path, "has no .BTF section to resolve CO-RE relocations against")
        }
        return CORETarget(main: try BTFTable(bytes: blob, label: path), extra: { [] }, description: "target BTF '\(path)'")
    }

    /// Types whose essential name is `name` and whose kind can stand for `local`'s (libbpf
    /// `bpf_core_add_cands`: the same kind, or any two enums).
    func candidates(for local: BTFRecord, named name: String) -> [BTFRecord] {
        func search(_ table: BTFTable) -> [BTFRecord] {
            table.types(essentiallyNamed: name).compactMap { table[$0] }.filter { COREMatch.kindsCompatible($0, local) }
        }
        let found = search(main)
        return found.isEmpty ? extra().flatMap(search) : found
    }
}
