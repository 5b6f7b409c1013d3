/// How an XDP program is attached: `native` in the driver, `generic` in the network stack
/// (works on every device, slower), `auto` lets the kernel choose (native when the driver can).
public enum XDPMode: String, Sendable, CaseIterable {
    case auto, native, generic
}
