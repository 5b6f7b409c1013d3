/// One pin made by `BPFObject.pin(to:)`.
public struct PinnedObject: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable { case program, map }
    public var kind: Kind
    public var name: String
    /// The instance, for programs with more than one.
    public var instance: Int?
    public var path: String
    public var id: UInt32
}

extension BPFObject {
    /// Pins every loaded instance and every map under `directory`:
    /// `progs/<program>` (or `progs/<program>/<n>` per instance), `maps/<map>` ('.' → '_').
    /// New `pinning: LIBBPF_PIN_BY_NAME` maps are also pinned in the by-name directory.
    /// All or nothing: on failure, every pin and directory this call made is removed.
    public func pin(to directory: String) throws -> [PinnedObject] {
        var made: [String] = []   // pins and directories, in creation order
        var result: [PinnedObject] = []
        func mkdirs(_ p: String) throws { made += try BPFFS.makeDirectories(p) }
        func pin(_ fd: FileDescriptor, _ path: String) throws {
            if case .failure(let e) = BPFCommand.pin(fd, at: path) {
                throw LoaderError(.pin, file: self.path, at: path, "cannot pin", errno: e,
                                  hint: e == .fileExists ? "something is already pinned there; remove it or pin elsewhere" : nil)
            }
            made.append(path)
        }
        do {
            try BPFFS.prepare(directory)
            try mkdirs(directory)
            let loaded = programs.filter(\.isLoaded)
            if !loaded.isEmpty { try mkdirs(directory + "/progs") }
            for p in loaded {
                let base = "\(directory)/progs/\(p.name)"
                if p.instanceCount == 1 {
                    let fd = try p.fd()
                    try pin(fd, base)
                    result.append(PinnedObject(kind: .program, name: p.name, path: base, id: programID(fd)))
                } else {
                    try mkdirs(base)
                    for inst in p.instances {
                        guard let fd = inst.fd else { continue }
                        let path = "\(base)/\(inst.index)"
                        try pin(fd, path)
                        result.append(PinnedObject(kind: .program, name: p.name, instance: inst.index, path: path, id: programID(fd)))
                    }
                }
            }
            if !maps.isEmpty { try mkdirs(directory + "/maps") }
            for m in maps {
                let path = "\(directory)/maps/\(m.name.replacingDots())"
                try pin(m.fd, path)
                result.append(PinnedObject(kind: .map, name: m.name, path: path, id: m.id))
                if m.definition.pinning == .byName, m.reusedFrom == nil, let dir = options.pinMapsByNameDirectory {
                    try BPFFS.prepare(dir)
                    try mkdirs(dir)
                    try pin(m.fd, "\(dir)/\(m.name)")
                }
            }
        } catch {
            for p in made.reversed() { BPFFS.remove(p) }
            throw (error as? LoaderError)?.inFile(path) ?? error
        }
        return result
    }

    private func programID(_ fd: FileDescriptor) -> UInt32 {
        (try? BPFCommand.programInfo(fd).get().id) ?? 0
    }
}

extension String {
    func replacingDots() -> String { String(map { $0 == "." ? "_" : $0 }) }
}
