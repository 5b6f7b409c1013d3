import BPFLoader
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// What a pipeline file declares against what is pinned: for `status` and `down`.
public struct Deployment {
    public let spec: PipelineSpec
    public var directory: String { "\(spec.pinRoot)/\(spec.name)" }
    public var sharedDirectory: String { "\(directory)/shared" }

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
        public var matches: Bool { missing.isEmpty && extra.isEmpty && stale.isEmpty }
    }

    /// Compares the pins with a plan of the file (built, relocated and preprocessed without
    /// loading): missing and extra pins, and programs whose tag is not the planned code's.
    public func status(plan: RunResult) throws -> Status {
        var expected: [String: String?] = [:]   // pin path → expected program tag (nil for maps)
        for (entry, obj) in zip(spec.objects, plan.objects) {
            let base = "\(directory)/\(entry.name)"
            for p in obj.programs where p.autoload {
                for inst in p.instances {
                    guard let code = inst.code else { continue }
                    let path = "\(base)/progs/\(PinNames.file(p.name))" + (p.instanceCount > 1 ? "/\(inst.index)" : "")
                    expected[path] = ProgramTag.of(code.instructions)
                }
            }
            for m in obj.spec.maps {
                let path = m.pinning == .byName ? "\(sharedDirectory)/\(PinNames.file(m.name))" : "\(base)/maps/\(PinNames.file(m.name))"
                expected[path] = .some(nil)
            }
        }
        let pinned = Set(pins(under: directory))
        var stale: [Status.Stale] = []
        for (path, tag) in expected.sorted(by: { $0.key < $1.key }) {
            guard let tag, pinned.contains(path) else { continue }
            let fd = try BPFFS.openPinned(path)
            let info = try ProgramKernelInfo(fd: fd)
            if info.tag != tag { stale.append(.init(pin: path, pinnedTag: info.tag, expectedTag: tag)) }
        }
        return Status(deployment: directory, missing: expected.keys.filter { !pinned.contains($0) }.sorted(),
                      extra: pinned.subtracting(expected.keys).sorted(), stale: stale)
    }

    /// Removes what the pipeline deployed. Kept maps (`keep: true`, `pin: shared`) stay unless
    /// `includeKept`. Returns the pins removed.
    public func down(includeKept: Bool) -> [String] {
        var keep = Set<String>()
        if !includeKept {
            for entry in spec.objects {
                for (name, m) in entry.maps where m.isKept && m.pin == .object {
                    keep.insert("\(directory)/\(entry.name)/maps/\(PinNames.file(name))")
                }
            }
            keep.formUnion(pins(under: sharedDirectory))
        }
        var removed: [String] = []
        for pin in pins(under: directory) where !keep.contains(pin) {
            if unlink(pin) == 0 { removed.append(pin) }
        }
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
