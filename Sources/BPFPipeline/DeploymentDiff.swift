import BPFLoader

/// What `bpfpipe run` would do to a deployment, without doing it: `bpfpipe diff`, and check mode
/// for fleet engines. A run replaces a deployment whole, so when anything differs every object is
/// reloaded; the diff says which instances' code actually changes (old and new tags), what becomes
/// of each map, and which pins and links appear or go.
public struct DeploymentDiff: Codable, Sendable {
    public struct InstanceChange: Codable, Sendable {
        /// `load` (nothing pinned there yet) or `replace`.
        public var action: String
        public var program: String
        public var instance: Int?
        public var pin: String
        public var oldTag: String?
        public var newTag: String
        /// false when the pinned program already has this code (only a global, map or the
        /// object around it changed).
        public var codeChanged: Bool
    }
    public struct MapChange: Codable, Sendable {
        /// `create` (nothing pinned), `replace` (a new, empty map instead of the pinned one),
        /// `keep` (a kept map reused, entries and all), `recreate` (a kept map whose definition
        /// changed, created anew: `on-mismatch: recreate`), `refuse` (the same without it: the run
        /// would fail).
        public var action: String
        public var name: String
        public var pin: String
        public var differences: [String]
    }
    public struct ObjectChange: Codable, Sendable {
        public var name: String
        /// `create`, `replace` or `unchanged`.
        public var action: String
        public var oldFingerprint: String?
        public var newFingerprint: String
        public var instances: [InstanceChange]
        public var maps: [MapChange]
    }
    public var deployment: String
    public var changed: Bool
    public var objects: [ObjectChange]
    /// Pins (programs, maps, fingerprints) a run would add, and pins it would remove.
    public var addPins: [String]
    public var removePins: [String]
    public var addLinks: [String]
    public var removeLinks: [String]
}

extension Deployment {
    /// Compares a plan of the file (`PipelineRunner.execute(.plan)`) with what is pinned.
    public func diff(plan: RunResult) throws -> DeploymentDiff {
        let status = try status(plan: plan)
        var objects: [DeploymentDiff.ObjectChange] = []
        for (entry, obj) in zip(spec.objects, plan.objects) {
            let object = layout.object(entry.name)
            let newPrint = Fingerprint.hex(plan.fingerprints[entry.name] ?? [])
            let oldPrint = PinnedDigest.read(at: object.digestPin).map(Fingerprint.hex)
            guard !status.matches else {
                objects.append(.init(name: entry.name, action: "unchanged", oldFingerprint: oldPrint, newFingerprint: newPrint, instances: [], maps: []))
                continue
            }
            var instances: [DeploymentDiff.InstanceChange] = []
            for p in obj.programs where p.autoload {
                for inst in p.instances {
                    guard let code = inst.code else { continue }
                    let pin = object.programPin(p.name, instance: inst.index, instanceCount: p.instanceCount)
                    let tags = Self.tags(code.instructions)
                    let newTag = Self.kernelDigestsWithSHA256 ? tags[1] : tags[0]
                    let oldTag = (try? BPFFS.openPinned(pin)).flatMap { try? ProgramKernelInfo(fd: $0).tag }
                    instances.append(.init(action: oldTag == nil ? "load" : "replace", program: p.name,
                                           instance: p.instanceCount > 1 ? inst.index : nil, pin: pin, oldTag: oldTag, newTag: newTag,
                                           codeChanged: oldTag.map { !tags.contains($0) } ?? true))
                }
            }
            var maps: [DeploymentDiff.MapChange] = []
            for def in obj.spec.maps {
                let pin = def.pinning == .byName ? layout.sharedMapPin(def.name) : object.mapPin(def.name)
                let kept = def.reuse != nil || def.pinning == .byName
                guard let differences = MapCompatibility.pinnedDifferences(at: def.reuse?.path ?? pin, against: def) else {
                    maps.append(.init(action: "create", name: def.name, pin: pin, differences: []))
                    continue
                }
                let action = !kept ? "replace" : differences.isEmpty ? "keep" : (def.reuse?.recreateOnMismatch ?? false) ? "recreate" : "refuse"
                maps.append(.init(action: action, name: def.name, pin: pin, differences: differences))
            }
            let exists = Paths.exists(object.directory)
            objects.append(.init(name: entry.name, action: exists ? "replace" : "create", oldFingerprint: oldPrint,
                                 newFingerprint: newPrint, instances: instances, maps: maps))
        }
        let isLink = PinLayout.isLinkPin
        return DeploymentDiff(deployment: directory, changed: !status.matches, objects: objects,
                              addPins: status.missing.filter { !isLink($0) }, removePins: status.extra.filter { !isLink($0) },
                              addLinks: status.missing.filter(isLink), removeLinks: status.extra.filter(isLink))
    }
}
