/// One link made and pinned by `BPFObject.attachAndPinLinks(under:)`.
public struct PinnedLink: Sendable, Codable, Equatable {
    public var program: String
    /// The instance, for programs with more than one.
    public var instance: Int?
    /// The target, as `LinkTarget.description` says it.
    public var target: String
    public var path: String
    /// The link's id (`bpftool link show id N`).
    public var id: UInt32
    /// The id of the program instance the link runs.
    public var programID: UInt32

    public init(program: String, instance: Int?, target: String, path: String, id: UInt32, programID: UInt32) {
        self.program = program
        self.instance = instance
        self.target = target
        self.path = path
        self.id = id
        self.programID = programID
    }
}
