import CBPFSys

/// A digest kept in bpffs next to what it describes. bpffs holds only BPF objects, so the digest
/// is the single value of a frozen one-entry array map: it lives, moves (rename) and dies with the
/// folder it is pinned in, and nothing but a new pin can change it.
public enum PinnedDigest {
    /// The map's name as `bpftool map list` shows it.
    public static let mapName = "bpfpipe_digest"
    static let valueSize = 32

    /// Creates the map holding `digest` (32 bytes), freezes it and pins it at `path`.
    public static func pin(_ digest: [UInt8], at path: String) throws {
        precondition(digest.count == valueSize, "a digest is \(valueSize) bytes")
        let fd = try BPFCommand.createMap(.init(type: UInt32(BPF_MAP_TYPE_ARRAY.rawValue), keySize: 4, valueSize: UInt32(valueSize),
                                                maxEntries: 1, name: mapName)).get(at: path, "cannot create the digest map")
        try BPFCommand.updateElement(map: fd, key: [0, 0, 0, 0], value: digest).get(at: path, "cannot store the digest")
        try BPFCommand.freeze(map: fd).get(at: path, "cannot freeze the digest map")
        try BPFCommand.pin(fd, at: path).get(at: path, "cannot pin the digest")
    }

    /// The digest pinned at `path`, or nil when nothing (or something else) is pinned there.
    public static func read(at path: String) -> [UInt8]? {
        guard case .success(let fd) = BPFCommand.get(pinned: path),
              case .success(let info) = BPFCommand.mapInfo(fd),
              info.type == BPF_MAP_TYPE_ARRAY.rawValue, info.key_size == 4, info.value_size == UInt32(valueSize),
              case .success(let value?) = BPFCommand.lookupElement(map: fd, key: [0, 0, 0, 0], valueSize: valueSize)
        else { return nil }
        return value
    }
}

private extension Result where Failure == Errno {
    func get(at path: String, _ what: String) throws -> Success {
        switch self {
        case .success(let v): return v
        case .failure(let e): throw LoaderError(.pin, at: path, what, errno: e)
        }
    }
}
