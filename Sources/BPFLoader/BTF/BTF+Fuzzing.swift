/// An entry point for the libFuzzer target in `Fuzz/`: `BTF` and `BTFExt` are internal, and a
/// fuzzer that could only reach them through a whole ELF object would spend most of its time
/// getting the ELF right instead of exploring the BTF parser.
public enum BTFParsing {
    /// Parses `bytes` as `[split: u16 LE][.BTF: split bytes][.BTF.ext: the rest]` and, when the BTF
    /// parses, walks every type through the queries and fix-ups later steps run on untrusted
    /// objects. Returns whether the BTF parsed; it must never trap, whatever the bytes.
    public static func check(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 2 else { return false }
        let split = min(Int(bytes[0]) | Int(bytes[1]) << 8, bytes.count - 2)
        let btfBytes = Array(bytes[2..<2 + split]), extBytes = Array(bytes[(2 + split)...])
        guard let btf = try? BTF(bytes: btfBytes, path: "fuzz.btf") else { return false }
        for id in btf.types.indices.map(UInt32.init) {
            _ = try? btf.size(of: id)
            _ = try? btf.alignment(of: id)
            _ = btf.skipModifiers(id)
            _ = btf.typeName(id)
        }
        // The fix-ups rewrite DATASECs in place; give them sizes and offsets from the input itself.
        let fixed = btf.fixingDatasecs(sectionSize: { $0.utf8.count * 8 }, symbolOffset: { UInt32($0.utf8.count * 4) })
            .sanitizedForKernel()
        _ = fixed.rawBytes.count
        _ = try? BTFExt(bytes: extBytes, btf: btf, path: "fuzz.btf")
        return true
    }
}
