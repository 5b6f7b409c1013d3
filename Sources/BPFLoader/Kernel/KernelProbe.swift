/// Cheap questions to ask the kernel before relying on it.
public enum KernelProbe {
    /// Whether this process may create a BPF map (bpf() allowed, capabilities present).
    public static func canCreateMaps() -> Bool {
        var attrs = BPFCommand.MapAttributes(type: 2, keySize: 4, valueSize: 4, maxEntries: 1)
        attrs.name = "bpfpipe_probe"
        if case .success = BPFCommand.createMap(attrs) { return true }
        return false
    }
}
