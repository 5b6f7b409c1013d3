/// The running kernel's version, for behaviour that changed at a known release (the verifier
/// log's rotation in 6.4, program tags' digest in 6.18).
public enum KernelRelease {
    /// Major and minor from `uname -r`; nil when it cannot be read.
    public static let current: (Int, Int)? = {
        let parts = KernelConfig.release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        return parts.count == 2 ? (parts[0], parts[1]) : nil
    }()
}
