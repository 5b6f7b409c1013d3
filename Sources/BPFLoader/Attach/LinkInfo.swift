/// What the kernel says about a link (BPF_OBJ_GET_INFO_BY_FD).
public struct LinkInfo: Sendable, Equatable {
    /// The link's id, as `bpftool link list` shows it.
    public var id: UInt32
    /// The id of the program the link runs now (it changes with BPF_LINK_UPDATE).
    public var programID: UInt32
    /// `enum bpf_link_type`: see `LinkType`.
    public var type: UInt32

    public init(id: UInt32, programID: UInt32, type: UInt32) {
        self.id = id
        self.programID = programID
        self.type = type
    }
}
