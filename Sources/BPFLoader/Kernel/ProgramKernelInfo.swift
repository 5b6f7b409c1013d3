/// What the kernel says about a loaded program: its id and tag (as `bpftool prog show` prints them).
public struct ProgramKernelInfo: Sendable, Codable, Equatable {
    public var id: UInt32
    public var tag: String
    public var name: String

    public init(fd: FileDescriptor) throws {
        var info = try BPFCommand.programInfo(fd).get()
        id = info.id
        tag = withUnsafeBytes(of: &info.tag) { $0.map { b in let s = String(b, radix: 16); return b < 16 ? "0" + s : s }.joined() }
        name = withUnsafeBytes(of: &info.name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}
