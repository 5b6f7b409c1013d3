import CBPFSys

/// The info reads `bpfpipe dump --xlated` needs beyond `programInfo(_:)`: a program's info with
/// buffers for its arrays, and a BTF object's raw blob by id.
extension BPFCommand {
    /// `BPF_OBJ_GET_INFO_BY_FD` with `info` as given: its pointer fields must point at buffers
    /// that stay alive for the call, with their lengths set.
    static func programInfo(_ fd: FileDescriptor, filling initial: bpf_prog_info) -> Result<bpf_prog_info, Errno> {
        objectInfo(fd, initial)
    }

    /// The raw BTF blob of the BTF object with this id (`BPF_BTF_GET_FD_BY_ID`, then its info).
    static func btf(id: UInt32) -> Result<[UInt8], Errno> {
        var attr = bpf_attr()
        attr.btf_id = id
        let fd: FileDescriptor
        switch sysBPF(BPF_BTF_GET_FD_BY_ID, &attr) {
        case .success(let raw): fd = FileDescriptor(adopting: raw)
        case .failure(let e): return .failure(e)
        }
        func info(_ buffer: UnsafeMutableRawBufferPointer?) -> Result<bpf_btf_info, Errno> {
            var info = bpf_btf_info()
            if let buffer {
                info.btf = address(UnsafeRawBufferPointer(buffer))
                info.btf_size = UInt32(buffer.count)
            }
            return objectInfo(fd, info)
        }
        switch info(nil) {
        case .failure(let e): return .failure(e)
        case .success(let sized):
            var blob = [UInt8](repeating: 0, count: Int(sized.btf_size))
            return blob.withUnsafeMutableBytes { info($0) }.map { _ in blob }
        }
    }
}
