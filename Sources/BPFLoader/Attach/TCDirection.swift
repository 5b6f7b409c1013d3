/// Which way a tcx program sees packets on its interface.
public enum TCDirection: String, Sendable, CaseIterable {
    case ingress, egress
}
