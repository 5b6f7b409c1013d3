/// Where a uprobe or uretprobe fires: a function of a binary (an executable or a shared
/// library), or a raw file offset in it.
public struct UprobeTarget: Sendable, Equatable {
    /// Absolute path of the executable or shared object.
    public var binary: String
    /// Resolved through the binary's `.symtab` and `.dynsym` (PIE and shared objects alike).
    public var function: String?
    /// Added to the function's file offset, or the file offset itself when there is no function.
    public var offset: UInt64
    /// nil or 0: every process that runs the binary.
    public var pid: Int32?
    /// A uretprobe: fires when the function returns.
    public var isReturn: Bool

    public init(binary: String, function: String? = nil, offset: UInt64 = 0, pid: Int32? = nil, isReturn: Bool = false) {
        self.binary = binary
        self.function = function
        self.offset = offset
        self.pid = pid
        self.isReturn = isReturn
    }
}
