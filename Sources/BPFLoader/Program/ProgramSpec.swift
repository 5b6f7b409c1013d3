/// A program as the object declares it: an entry-point function and the kind its section names.
public struct ProgramSpec: Sendable {
    public var name: String
    public var section: String
    /// nil when the section name is not one bpfpipe knows; loading then needs a declared type.
    public var kind: ProgramKind?
    /// False for `?`-prefixed sections (libbpf's "do not load by default") or when turned off.
    public var autoload: Bool
    /// Instructions in the entry function itself, before subprograms are appended.
    public var instructionCount: Int { function.count }
    var function: FunctionSpec
}
