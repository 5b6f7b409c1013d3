extension BPFObject {
    /// The loaded programs whose section names their target (bpftool's autoattach), with it.
    public func autoAttachTargets() -> [(program: Program, target: LinkTarget)] {
        programs.compactMap { p in
            guard p.isLoaded, let target = p.autoAttachTarget else { return nil }
            return (p, target)
        }
    }

    /// Attaches every instance of every loaded program whose section names a target and pins
    /// each link at `PinLayout.linkPin` below `directory` (`links/<program>[/<n>]`).
    /// All or nothing: on failure every link this call made is unpinned and detached, and the
    /// folders it created are removed.
    public func attachAndPinLinks(under directory: String) throws -> [PinnedLink] {
        let wanted = autoAttachTargets()
        guard !wanted.isEmpty else { return [] }
        var made: [String] = []   // pins and directories, in creation order
        var links: [BPFLink] = []  // held until the pins are made; dropping them detaches
        var result: [PinnedLink] = []
        do {
            try BPFFS.prepare(directory, step: .attach)
            let layout = PinLayout(directory: directory)
            made += try BPFFS.makeDirectories(layout.linksDirectory, step: .attach)
            for (p, target) in wanted {
                let base = layout.linkBase(p.name)
                if p.instanceCount > 1 { made += try BPFFS.makeDirectories(base, step: .attach) }
                for inst in p.instances where inst.fd != nil {
                    let path = layout.linkPin(p.name, instance: inst.index, instanceCount: p.instanceCount)
                    let link = try p.attach(target, instance: inst.index)
                    links.append(link)
                    do {
                        try link.pin(at: path)
                    } catch var e as LoaderError {
                        e.file = self.path
                        e.location = "program '\(p.name)' instance \(inst.index), \(path)"
                        throw e.about(program: p.name, instance: inst.index)
                    }
                    made.append(path)
                    let info = try link.info()
                    result.append(PinnedLink(program: p.name, instance: p.instanceCount > 1 ? inst.index : nil,
                                             target: target.description, path: path, id: info.id, programID: info.programID))
                }
            }
        } catch {
            // Detached right away where the link type allows (xdp, tcx, cgroup); the others go
            // when their last reference does, the pin's after a grace period.
            for link in links.reversed() { try? link.detach() }
            for p in made.reversed() { BPFFS.remove(p) }
            throw (error as? LoaderError)?.inFile(path) ?? error
        }
        return result
    }

    /// Removes pins `pin(to:)` made (programs and maps) and the folders under `directory` they
    /// leave empty; `directory` itself too when `removeDirectory`. Used to undo a load whose
    /// later step failed.
    public static func removePins(_ pinned: [PinnedObject], under directory: String, removeDirectory: Bool) {
        for p in pinned.reversed() { BPFFS.remove(p.path) }
        // Per-instance folders, then the kind folders; rmdir leaves anything not empty alone.
        for p in pinned where p.instance != nil {
            if let slash = p.path.lastIndex(of: "/") { BPFFS.remove(String(p.path[..<slash])) }
        }
        let layout = PinLayout(directory: directory)
        for folder in [layout.programsDirectory, layout.mapsDirectory, layout.linksDirectory] { BPFFS.remove(folder) }
        if removeDirectory { BPFFS.remove(directory) }
    }
}

extension Program {
    /// Where the program attaches by itself: the target its section names, or, for a program
    /// retargeted with `setAttachTarget` (pipeline `attach-to`), the tracing link its load fixed,
    /// even when the section names none (a bare `SEC("tp_btf")`).
    public var autoAttachTarget: LinkTarget? {
        overriddenAttachBTFID != nil ? .tracing : LinkTarget.fromSection(section)
    }
}
