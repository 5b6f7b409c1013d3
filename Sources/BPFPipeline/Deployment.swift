import BPFLoader
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// What a pipeline file declares against what is pinned: for `status` and `down`.
public struct Deployment {
    public let spec: PipelineSpec
    public var layout: PinLayout { .deployment(root: spec.pinRoot, name: spec.name) }
    public var directory: String { layout.directory }
    public var sharedDirectory: String { layout.sharedDirectory }

    public init(spec: PipelineSpec) { self.spec = spec }

    public struct Status: Codable, Sendable {
        public struct Stale: Codable, Sendable {
            public var pin: String
            public var pinnedTag: String
            public var expectedTag: String
        }
        public var deployment: String
        public var missing: [String]
        public var extra: [String]
        public var stale: [Stale]
        /// Links whose program is not the deployed instance pinned beside them.
        public var misattached: [Misattached] = []
        /// Staging folders of killed runs found (and removed) before comparing.
        public var killedRuns: [KilledRuns.Found] = []
        /// Objects whose pinned fingerprint is not the file's: something that reaches the kernel
        /// changed (a global, a stage's values, the object, a map definition, an attach target).
        public var outdated: [String] = []
        public var matches: Bool { missing.isEmpty && extra.isEmpty && stale.isEmpty && misattached.isEmpty && outdated.isEmpty }
    }

    /// Compares the pins with a plan of the file (built, relocated and preprocessed without
    /// loading): missing and extra pins, and programs whose tag is not the planned code's.
    public func status(plan: RunResult) throws -> Status {
        var expected: [String: [String]?] = [:]   // pin path → the program's possible tags (nil for maps and links)
        var links: [String: String] = [:]         // link pin → the program pin it should run
        for (entry, obj) in zip(spec.objects, plan.objects) {
            let object = layout.object(entry.name)
            for p in obj.programs where p.autoload {
                for inst in p.instances {
                    guard let code = inst.code else { continue }
                    let path = object.programPin(p.name, instance: inst.index, instanceCount: p.instanceCount)
                    expected[path] = Self.tags(code.instructions)
                    if AttachStep.target(of: p, instance: inst.index, entry.programs[p.name]?.attach ?? .fromSection) != nil {
                        let link = object.linkPin(p.name, instance: inst.index, instanceCount: p.instanceCount)
                        expected[link] = .some(nil)
                        links[link] = path
                    }
                }
            }
            if plan.fingerprints[entry.name] != nil { expected[object.digestPin] = .some(nil) }
            for m in obj.spec.maps {
                // Every map is pinned in its object's maps/ folder; a shared one also in shared/.
                expected[object.mapPin(m.name)] = .some(nil)
                if m.pinning == .byName { expected[layout.sharedMapPin(m.name)] = .some(nil) }
            }
        }
        let pinned = Set(pins(under: directory))
        var stale: [Status.Stale] = []
        for (path, tags) in expected.sorted(by: { $0.key < $1.key }) {
            guard let tags, pinned.contains(path) else { continue }
            let fd = try BPFFS.openPinned(path)
            let info = try ProgramKernelInfo(fd: fd)
            if !tags.contains(info.tag) {
                stale.append(.init(pin: path, pinnedTag: info.tag, expectedTag: Self.kernelDigestsWithSHA256 ? tags[1] : tags[0]))
            }
        }
        let outdated = spec.objects.compactMap { entry -> String? in
            let path = layout.object(entry.name).digestPin
            guard let planned = plan.fingerprints[entry.name], pinned.contains(path) else { return nil }
            return PinnedDigest.read(at: path) == planned ? nil : entry.name
        }
        return Status(deployment: directory, missing: expected.keys.filter { !pinned.contains($0) }.sorted(),
                      extra: pinned.subtracting(expected.keys).sorted(), stale: stale,
                      misattached: try Self.misattached(links.filter { pinned.contains($0.key) }), outdated: outdated)
    }

    /// The tags `code` gets from a kernel that digests with SHA-1 (before 6.18) and from one that
    /// digests with SHA-256 (6.18 on). Both are accepted: a distribution kernel may carry either
    /// whatever its version says.
    static func tags(_ code: [Instruction]) -> [String] {
        var sha256 = SHA256()
        sha256.update(ProgramTag.hashedBytes(code))
        return [ProgramTag.of(code), String(sha256.hexDigest().prefix(16))]
    }

    /// Which tag a stale pin is reported against: the running kernel's own kind (6.18 or later: SHA-256).
    static let kernelDigestsWithSHA256: Bool = KernelRelease.current.map { $0 >= (6, 18) } ?? true

    /// Removes what the pipeline deployed. Kept maps (`keep: true`, `pin: shared`) stay unless
    /// `includeKept`. Returns the pins removed (with `dryRun`, the pins it would remove).
    public func down(includeKept: Bool, dryRun: Bool = false) -> [String] {
        var keep = Set<String>()
        if !includeKept {
            for entry in spec.objects {
                for (name, m) in entry.maps where m.isKept && m.pin == .object {
                    keep.insert(layout.object(entry.name).mapPin(name))
                }
            }
            keep.formUnion(pins(under: sharedDirectory))
        }
        var removed: [String] = []
        for pin in pins(under: directory) where !keep.contains(pin) {
            if dryRun || unlink(pin) == 0 { removed.append(pin) }
        }
        if dryRun { return removed }
        removeEmptyDirectories(directory)
        return removed
    }

    /// Every pin (non-directory) below `root`, as full paths.
    func pins(under root: String) -> [String] {
        guard let names = try? FileManager.default.subpathsOfDirectory(atPath: root) else { return [] }
        return names.map { "\(root)/\($0)" }.filter { path in
            var st = stat()
            return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) != S_IFDIR
        }.sorted()
    }

    /// Removes `root` and the folders below it that hold nothing.
    private func removeEmptyDirectories(_ root: String) {
        guard let names = try? FileManager.default.subpathsOfDirectory(atPath: root) else { return }
        for name in names.sorted(by: { $0.count > $1.count }) { _ = rmdir("\(root)/\(name)") }
        _ = rmdir(root)
    }
}
