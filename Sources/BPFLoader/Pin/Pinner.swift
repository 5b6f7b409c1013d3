#if canImport(Glibc)
import Glibc
#endif

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
    /// Pins every loaded instance and every map under `directory`, laid out by `PinLayout`:
    /// a pin per program instance and one per map.
    /// (`pinning: LIBBPF_PIN_BY_NAME` maps were already pinned by name when they were created.)
    /// All or nothing: on failure, every pin and directory this call made is removed.
    public func pin(to directory: String, commitByNamePins: Bool = true) throws -> [PinnedObject] {
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
            let layout = PinLayout(directory: directory)
            try BPFFS.prepare(directory)
            try mkdirs(directory)
            let loaded = programs.filter(\.isLoaded)
            if !loaded.isEmpty { try mkdirs(layout.programsDirectory) }
            for p in loaded {
                let base = layout.programBase(p.name)
                if p.instanceCount == 1 {
                    // A single instance its preprocessor skipped has nothing to pin.
                    guard p.instances.first?.fd != nil else { continue }
                    let fd = try p.fd()
                    try pin(fd, base)
                    result.append(PinnedObject(kind: .program, name: p.name, path: base, id: p.kernelInfo(instance: 0)?.id ?? 0))
                } else {
                    try mkdirs(base)
                    for inst in p.instances {
                        guard let fd = inst.fd else { continue }
                        let path = layout.programPin(p.name, instance: inst.index, instanceCount: p.instanceCount)
                        try pin(fd, path)
                        result.append(PinnedObject(kind: .program, name: p.name, instance: inst.index, path: path, id: p.kernelInfo(instance: inst.index)?.id ?? 0))
                    }
                }
            }
            if !maps.isEmpty { try mkdirs(layout.mapsDirectory) }
            for m in maps {
                let path = layout.mapPin(m.name)
                try pin(m.fd, path)
                result.append(PinnedObject(kind: .map, name: m.name, path: path, id: m.id))
            }
        } catch {
            for p in made.reversed() { BPFFS.remove(p) }
            throw (error as? LoaderError)?.inFile(path) ?? error
        }
        if commitByNamePins { commitNewByNamePins() }
        return result
    }
}

/// How names from an object become file names in bpffs.
public enum PinNames {
    /// bpffs refuses '.' in names, and a name from the object must never become a path of its
    /// own ('/', '..'): anything but letters, digits, '_' and '-' becomes '_'.
    public static func file(_ name: String) -> String {
        let mapped = String(name.unicodeScalars.map { s -> Character in
            (("a"..."z").contains(s) || ("A"..."Z").contains(s) || ("0"..."9").contains(s) || s == "_" || s == "-") ? Character(s) : "_"
        })
        return mapped.isEmpty ? "_" : mapped
    }
}

extension BPFObject {
    /// Pins the `LIBBPF_PIN_BY_NAME` maps this object created (not reused) at the by-name folder
    /// right away, as libbpf does, so the next object of the same run reuses them instead of
    /// creating its own. Returns the pins made; `removePins` undoes them when the run fails.
    func pinNewByNameMaps() throws -> (made: [String], replaced: [(pin: String, aside: String)]) {
        guard let dir = options.pinMapsByNameDirectory else { return ([], []) }
        var made: [String] = []
        var replaced: [(pin: String, aside: String)] = []
        do {
            for m in maps where m.definition.pinning == .byName && m.reusedFrom == nil {
                if made.isEmpty && replaced.isEmpty {
                    try BPFFS.prepare(dir, step: .relocate)
                    try BPFFS.makeDirectories(dir, step: .relocate)
                }
                let final = PinLayout.byNamePin(m.name, in: dir)
                if BPFFS.exists(final) {
                    // A kept map recreated after a definition change: the old pin steps aside
                    // (and comes back if the run fails) while the new map takes its name.
                    let aside = PinLayout.asidePin(final, pid: getpid())
                    if case .failure(let e) = sysRename(final, aside) {
                        throw LoaderError(.relocate, file: path, at: "map '\(m.name)'", "cannot move \(final) aside", errno: e)
                    }
                    replaced.append((final, aside))
                }
                if case .failure(let e) = BPFCommand.pin(m.fd, at: final) {
                    throw LoaderError(.relocate, file: path, at: "map '\(m.name)'", "cannot pin at \(final)", errno: e)
                }
                if replaced.last?.pin != final { made.append(final) }
            }
        } catch {
            BPFObject.undoByNamePins(made: made, replaced: replaced)
            throw error
        }
        return (made, replaced)
    }

    /// Removes new by-name pins and puts set-aside ones back, newest first.
    static func undoByNamePins(made: [String], replaced: [(pin: String, aside: String)]) {
        for p in made.reversed() { BPFFS.remove(p) }
        for r in replaced.reversed() {
            BPFFS.remove(r.pin)
            _ = sysRename(r.aside, r.pin)
        }
    }
}
