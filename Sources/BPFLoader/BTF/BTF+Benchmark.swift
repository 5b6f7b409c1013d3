extension BTFParsing {
    /// Reads and indexes a BTF file the way the loader reads the kernel's vmlinux BTF (one read,
    /// then `BTFTable`) and returns its type count. Public only so `benchmarks/BTFBench` can time
    /// the parser against libbpf's `btf__parse` (benchmark P4) without a CLI subcommand.
    public static func parseFile(_ path: String) throws -> Int {
        let table = try BTFTable(bytes: KernelBTF.readWhole(path), label: path)
        return Int(table.typeCount)
    }
}
