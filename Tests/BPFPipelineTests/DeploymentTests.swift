import Foundation
import Testing
@testable import BPFLoader
@testable import BPFPipeline
import BPFTestSupport

/// The BPF C fixture whose programs return what their maps hold (`-DBONUS=1000` adds 1000).
let keptFixture = "\(repositoryRoot)/Tests/BPFPipelineTests/Pipelines/fixtures/kept.bpf.c"
let countersSource = "\(repositoryRoot)/examples/counters/counters.bpf.c"

/// What is pinned under a deployment, as the kernel sees it.
enum PinTree {
    /// Every entry below `root` (relative path) → "dir", "prog <id> <tag>" or "map <id>".
    static func snapshot(_ root: String) throws -> [String: String] {
        guard let e = FileManager.default.enumerator(atPath: root) else { return [:] }
        var result: [String: String] = [:]
        for case let rel as String in e {
            let path = "\(root)/\(rel)"
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            if isDirectory.boolValue { result[rel] = "dir"; continue }
            result[rel] = try describe(path)
        }
        return result
    }

    static func describe(_ path: String) throws -> String {
        if path.contains("/links/") {
            let info = try BPFLink.openPinned(path).info()
            return "link \(info.id) prog \(info.programID)"
        }
        let fd = try BPFFS.openPinned(path)
        // Object pins put programs under progs/, links under links/; everything else is a map.
        if path.contains("/progs/") {
            let info = try ProgramKernelInfo(fd: fd)
            return "prog \(info.id) \(info.tag)"
        }
        return "map \(try mapID(path))"
    }

    static func mapID(_ path: String) throws -> UInt32 {
        try BPFCommand.mapInfo(try BPFFS.openPinned(path)).get().id
    }

    static func programID(_ path: String) throws -> UInt32 {
        try ProgramKernelInfo(fd: try BPFFS.openPinned(path)).id
    }

    static func write(_ path: String, key: UInt32, value: UInt64) throws {
        let fd = try BPFFS.openPinned(path)
        try BPFCommand.updateElement(map: fd, key: .le(key), value: .le(value)).get()
    }
}

/// A pipeline file in its own private temporary folder (with a build cache beside it), for the CLI.
final class PipelineFile {
    let directory: String
    var path: String { "\(directory)/pipeline.yaml" }
    var cache: String { "\(directory)/cache" }

    init(_ text: String) throws {
        directory = NSTemporaryDirectory() + "bpfpipe-deploy-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }
}

/// Deployments over time: redeploys that keep (or deliberately drop) map contents, concurrent
/// runs, `status`, `down`, and the refusals that keep pins and objects where they belong.
@Suite(.enabled(if: KernelGate.enabled, "needs bpf() as root"), .kernel)
struct DeploymentTests {
    // MARK: Redeploys and kept maps

    /// One object `k` from the kept fixture; `maps` and `cflags` vary per version.
    static func keptPipeline(maps: String, cflags: String = "[]", withShared: Bool = false) -> String {
        """
        version: 1
        name: kept
        objects:
          - name: k
            build: { source: ../Tests/BPFPipelineTests/Pipelines/fixtures/kept.bpf.c, cflags: \(cflags) }
            maps:
        \(maps)
            programs:
              read_store: {}
              read_shared: {}
        """
    }

    @Test func redeployOfAProgramSeesTheEntriesOfAKeptObjectMap() throws {
        let h = try PipelineHarness()
        let maps = "      store: { keep: true }"
        _ = try h.runner(try h.decode(text: Self.keptPipeline(maps: maps))).execute(.run)
        let base = "\(h.pins.path)/kept/k"
        try PinTree.write("\(base)/maps/store", key: 0, value: 42)
        #expect(try h.run("\(base)/progs/read_store") == 42)
        let mapID = try PinTree.mapID("\(base)/maps/store")
        let v1Program = try PinTree.programID("\(base)/progs/read_store")

        _ = try h.runner(try h.decode(text: Self.keptPipeline(maps: maps, cflags: "[\"-DBONUS=1000\"]"))).execute(.run)
        #expect(try PinTree.programID("\(base)/progs/read_store") != v1Program)
        #expect(try h.run("\(base)/progs/read_store") == 1042)
        #expect(try PinTree.mapID("\(base)/maps/store") == mapID)
    }

    @Test func redeployOfAProgramSeesTheEntriesOfASharedMap() throws {
        let h = try PipelineHarness()
        let maps = "      shared_store: { pin: shared }"
        _ = try h.runner(try h.decode(text: Self.keptPipeline(maps: maps))).execute(.run)
        let shared = "\(h.pins.path)/kept/shared/shared_store"
        let program = "\(h.pins.path)/kept/k/progs/read_shared"
        try PinTree.write(shared, key: 0, value: 7)
        #expect(try h.run(program) == 7)
        let mapID = try PinTree.mapID(shared)

        _ = try h.runner(try h.decode(text: Self.keptPipeline(maps: maps, cflags: "[\"-DBONUS=1000\"]"))).execute(.run)
        #expect(try h.run(program) == 1007)
        #expect(try PinTree.mapID(shared) == mapID)
    }

    @Test func aMapNotKeptIsNewOnEveryRedeploy() throws {
        let h = try PipelineHarness()
        _ = try h.runner(try h.decode(text: Self.keptPipeline(maps: "      store: {}"))).execute(.run)
        let base = "\(h.pins.path)/kept/k"
        try PinTree.write("\(base)/maps/store", key: 0, value: 42)
        let mapID = try PinTree.mapID("\(base)/maps/store")

        _ = try h.runner(try h.decode(text: Self.keptPipeline(maps: "      store: {}", cflags: "[\"-DBONUS=1000\"]"))).execute(.run)
        #expect(try PinTree.mapID("\(base)/maps/store") != mapID)
        #expect(try h.run("\(base)/progs/read_store") == 1000)
    }

    @Test(arguments: ["store: { keep: true", "shared_store: { pin: shared"])
    func aKeptMapWhoseDefinitionChangedIsRefusedWithTheDifferencesListed(_ map: String) throws {
        let h = try PipelineHarness()
        _ = try h.runner(try h.decode(text: Self.keptPipeline(maps: "      \(map) }"))).execute(.run)
        let name = map.hasPrefix("store") ? "store" : "shared_store"
        let pin = name == "store" ? "\(h.pins.path)/kept/k/maps/store" : "\(h.pins.path)/kept/shared/shared_store"
        try PinTree.write(pin, key: 0, value: 42)
        let before = try PinTree.snapshot(h.pins.path)

        let changed = Self.keptPipeline(maps: "      \(map), max-entries: 8 }", cflags: "[\"-DBONUS=1000\"]")
        let error = #expect(throws: LoaderError.self) { _ = try h.runner(try h.decode(text: changed)).execute(.run) }
        let message = "\(error.map { "\($0)" } ?? "")"
        #expect(message.contains("max entries: pinned 4, object wants 8"), "\(message)")
        #expect(message.contains(pin))
        #expect(try PinTree.snapshot(h.pins.path) == before)
        let program = "\(h.pins.path)/kept/k/progs/\(name == "store" ? "read_store" : "read_shared")"
        #expect(try h.run(program) == 42)
    }

    @Test(arguments: ["store: { keep: true", "shared_store: { pin: shared"])
    func onMismatchRecreateGivesAFreshMap(_ map: String) throws {
        let h = try PipelineHarness()
        _ = try h.runner(try h.decode(text: Self.keptPipeline(maps: "      \(map) }"))).execute(.run)
        let name = map.hasPrefix("store") ? "store" : "shared_store"
        let pin = name == "store" ? "\(h.pins.path)/kept/k/maps/store" : "\(h.pins.path)/kept/shared/shared_store"
        try PinTree.write(pin, key: 0, value: 42)
        let mapID = try PinTree.mapID(pin)

        let changed = Self.keptPipeline(maps: "      \(map), max-entries: 8, on-mismatch: recreate }", cflags: "[\"-DBONUS=1000\"]")
        _ = try h.runner(try h.decode(text: changed)).execute(.run)
        #expect(try PinTree.mapID(pin) != mapID)
        let program = "\(h.pins.path)/kept/k/progs/\(name == "store" ? "read_store" : "read_shared")"
        #expect(try h.run(program) == 1000)
        // Nothing of the replacement is left beside the map.
        #expect(!h.pins.contents().contains { $0.contains("_new_") || $0.contains("_staging_") })
    }

    @Test(arguments: ["keep: true", "pin: shared"])
    func aProgramArrayMarkedKeptIsRefusedAtValidate(_ setting: String) throws {
        let h = try PipelineHarness()
        let spec = try h.decode(text: Self.keptPipeline(maps: "      jumps: { \(setting) }", cflags: "[\"-DWITH_JUMPS\"]"))
        let error = #expect(throws: PipelineError.self) { _ = try h.runner(spec).execute(.validate) }
        let message = "\(error.map { "\($0)" } ?? "")"
        #expect(message.contains("map 'jumps' is a program array, which is never kept across deployments"), "\(message)")
        #expect(h.pins.contents().isEmpty)
    }

    // MARK: Concurrent runs

    /// Two objects of three `tagged` instances each and a shared map, pinned under `root`.
    static func twoObjectPipeline(root: String, values a: [Int] = [100, 200, 300], _ b: [Int] = [400, 500, 600]) -> String {
        func object(_ name: String, _ values: [Int]) -> String {
            """
              - name: \(name)
                build: { source: \(countersSource) }
                maps:
                  hits: { pin: shared }
                programs:
                  tagged:
                    instances: 3
                    preprocess:
                      - stage: patch-imm
                        with: { marker: 0x0badcafe, values: \(values) }
                  count_pkts: { load: false }
                  with_arg: { load: false }
            """
        }
        return """
        version: 1
        name: two
        pin-root: \(root)
        objects:
        \(object("a", a))
        \(object("b", b))
        """
    }

    /// Program ids of every instance a `--report` file lists, by pin path.
    static func reportedProgramIDs(_ path: String) throws -> [String: UInt32] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        var ids: [String: UInt32] = [:]
        for o in report["objects"] as? [[String: Any]] ?? [] {
            for p in o["programs"] as? [[String: Any]] ?? [] {
                for i in p["instances"] as? [[String: Any]] ?? [] {
                    if let pin = i["pin"] as? String, let id = i["id"] as? Int { ids[pin] = UInt32(id) }
                }
            }
        }
        return ids
    }

    @Test func twoProcessesRunningAtOnceNeverLeaveAMixedDeployment() throws {
        let pins = try PinDirectory()
        let file = try PipelineFile(Self.twoObjectPipeline(root: pins.path))
        let deployment = "\(pins.path)/two"
        let programs = ["a", "b"].flatMap { o in (0..<3).map { "\(deployment)/\(o)/progs/tagged/\($0)" } }
        for iteration in 0..<20 {
            let reports = (0..<2).map { "\(file.directory)/report-\(iteration)-\($0).json" }
            let children = try reports.map {
                try ChildProcess(bpfpipeExecutable, ["run", file.path, "--force", "--cache-dir", file.cache, "--report", $0, "--lock-timeout", "60"])
            }
            let outcomes = try children.map { try $0.wait() }
            for o in outcomes { #expect(o.status == 0, "iteration \(iteration): \(o.stderr)") }

            let contents = pins.contents()
            #expect(!contents.contains { $0.contains("_staging_") || $0.contains("_previous_") || $0.contains("_new_") }, "\(contents)")
            var pinned: [String: UInt32] = [:]
            for p in programs { pinned[p] = try PinTree.programID(p) }
            // Every program pinned comes from one run: the one whose report lists exactly these ids.
            let runs = try reports.map(Self.reportedProgramIDs)
            #expect(runs.contains { $0 == pinned }, "iteration \(iteration): pinned \(pinned), reports \(runs)")
            #expect(Set(runs[0].values).isDisjoint(with: runs[1].values))
            #expect(try PinTree.mapID("\(deployment)/shared/hits") == PinTree.mapID("\(deployment)/a/maps/hits"))
        }
    }

    @Test func aHeldLockWithZeroTimeoutExitsThreeNamingTheLock() throws {
        let pins = try PinDirectory()
        let file = try PipelineFile(Self.twoObjectPipeline(root: pins.path))
        let lock = try DeploymentLock(deployment: "\(pins.path)/two", timeout: 0)
        let r = try runBPFPipe(["run", file.path, "--cache-dir", file.cache, "--lock-timeout", "0"])
        withExtendedLifetime(lock) {}
        #expect(r.status == 3, "\(r.stderr)")
        #expect(r.stderr.contains("lock \(lock.path)"), "\(r.stderr)")
        #expect(r.stderr.contains("another bpfpipe run is deploying \(pins.path)/two"))
        #expect(pins.contents().isEmpty)
    }

    // MARK: status and down

    /// A deployment with a kept object map and a shared one, for `status` and `down`.
    static func statusPipeline(root: String, bonus: Int = 0) -> String {
        """
        version: 1
        name: st
        pin-root: \(root)
        objects:
          - name: k
            build: { source: \(keptFixture), cflags: ["-DBONUS=\(bonus)"] }
            maps:
              store: { keep: true }
              shared_store: { pin: shared }
            programs:
              read_store: {}
              read_shared: {}
        """
    }

    static func status(_ file: PipelineFile) throws -> (status: Int32, json: [String: Any]) {
        let r = try runBPFPipe(["status", file.path, "--cache-dir", file.cache, "--json"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout)\n\(r.stderr)")
        return (r.status, json)
    }

    @Test func statusMatchesAFreshDeploymentAndReportsMissingExtraAndStalePins() throws {
        let pins = try PinDirectory()
        let file = try PipelineFile(Self.statusPipeline(root: pins.path))
        let run = try runBPFPipe(["run", file.path, "--cache-dir", file.cache])
        try #require(run.status == 0, "\(run.stderr)")
        let base = "\(pins.path)/st/k"

        let text = try runBPFPipe(["status", file.path, "--cache-dir", file.cache])
        #expect(text.status == 0, "\(text.stdout)\(text.stderr)")
        #expect(text.stdout.contains("up to date"))
        var s = try Self.status(file)
        #expect(s.status == 0)
        #expect((s.json["missing"] as? [String])?.isEmpty == true, "\(s.json)")
        #expect((s.json["extra"] as? [String])?.isEmpty == true, "\(s.json)")
        #expect((s.json["stale"] as? [Any])?.isEmpty == true, "\(s.json)")

        // A pin gone.
        let moved = "\(pins.path)/st-aside"
        try BPFCommand.pin(try BPFFS.openPinned("\(base)/progs/read_shared"), at: moved).get()
        unlink("\(base)/progs/read_shared")
        s = try Self.status(file)
        #expect(s.status == 1)
        #expect(s.json["missing"] as? [String] == ["\(base)/progs/read_shared"])
        try BPFCommand.pin(try BPFFS.openPinned(moved), at: "\(base)/progs/read_shared").get()
        unlink(moved)

        // A pin nobody declared.
        try BPFCommand.pin(try BPFFS.openPinned("\(base)/progs/read_store"), at: "\(base)/progs/stray").get()
        s = try Self.status(file)
        #expect(s.status == 1)
        #expect(s.json["extra"] as? [String] == ["\(base)/progs/stray"])
        #expect((s.json["missing"] as? [String])?.isEmpty == true)
        unlink("\(base)/progs/stray")

        // Another version of a program pinned by hand in place of the deployed one.
        let other = try PinDirectory()
        let otherFile = try PipelineFile(Self.statusPipeline(root: other.path, bonus: 1000))
        let otherRun = try runBPFPipe(["run", otherFile.path, "--cache-dir", otherFile.cache])
        try #require(otherRun.status == 0, "\(otherRun.stderr)")
        let handLoaded = try BPFFS.openPinned("\(other.path)/st/k/progs/read_store")
        let handTag = try ProgramKernelInfo(fd: handLoaded).tag
        let deployedTag = try ProgramKernelInfo(fd: try BPFFS.openPinned("\(base)/progs/read_store")).tag
        unlink("\(base)/progs/read_store")
        try BPFCommand.pin(handLoaded, at: "\(base)/progs/read_store").get()
        s = try Self.status(file)
        #expect(s.status == 1)
        let stale = try #require(s.json["stale"] as? [[String: Any]])
        #expect(stale.count == 1)
        #expect(stale.first?["pin"] as? String == "\(base)/progs/read_store")
        #expect(stale.first?["pinnedTag"] as? String == handTag)
        #expect(stale.first?["expectedTag"] as? String == deployedTag)
        #expect((s.json["missing"] as? [String])?.isEmpty == true && (s.json["extra"] as? [String])?.isEmpty == true)
    }

    @Test func downKeepsKeptMapsUnlessIncludeKept() throws {
        let pins = try PinDirectory()
        let file = try PipelineFile(Self.statusPipeline(root: pins.path))
        let run = try runBPFPipe(["run", file.path, "--cache-dir", file.cache])
        try #require(run.status == 0, "\(run.stderr)")
        let deployment = "\(pins.path)/st"
        try PinTree.write("\(deployment)/k/maps/store", key: 0, value: 5)
        let kept = try ["k/maps/store": PinTree.mapID("\(deployment)/k/maps/store"),
                        "shared/shared_store": PinTree.mapID("\(deployment)/shared/shared_store")]

        let down = try runBPFPipe(["down", file.path])
        #expect(down.status == 0, "\(down.stderr)")
        let left = try PinTree.snapshot(deployment).filter { $0.value != "dir" }
        #expect(left == kept.mapValues { "map \($0)" })

        // A redeploy after `down` picks the kept contents up again.
        #expect(try runBPFPipe(["run", file.path, "--cache-dir", file.cache]).status == 0)
        #expect(try PipelineHarness().run("\(deployment)/k/progs/read_store") == 5)

        let all = try runBPFPipe(["down", file.path, "--include-kept"])
        #expect(all.status == 0, "\(all.stderr)")
        #expect(!FileManager.default.fileExists(atPath: deployment))
    }

    // MARK: Paths that are not safe

    @Test func aWorldWritableObjectIsRefusedUnlessAllowed() throws {
        let pins = try PinDirectory()
        let build = try BuildStep(cacheDirectory: NSTemporaryDirectory() + "bpfpipe-cache-\(getpid())").build(source: countersSource, cflags: [], include: [])
        let dir = NSTemporaryDirectory() + "bpfpipe-unsafe-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let object = "\(dir)/counters.bpf.o"
        try FileManager.default.copyItem(atPath: build.object, toPath: object)
        chmod(object, 0o666)
        let file = try PipelineFile("""
        version: 1
        name: unsafe
        pin-root: \(pins.path)
        objects:
          - name: c
            path: \(object)
            programs:
              count_pkts: {}
              tagged: { load: false }
              with_arg: { load: false }
        """)
        let refused = try runBPFPipe(["run", file.path])
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(refused.stderr.contains("\(object) is world-writable"), "\(refused.stderr)")
        #expect(refused.stderr.contains("--allow-unsafe-paths"))
        #expect(pins.contents().isEmpty)

        let allowed = try runBPFPipe(["run", file.path, "--allow-unsafe-paths"])
        #expect(allowed.status == 0, "\(allowed.stderr)")
        #expect(try PipelineHarness().run("\(pins.path)/unsafe/c/progs/count_pkts") == 0)
    }

    @Test func aPinRootThroughASymbolicLinkIsRefused() throws {
        let h = try PipelineHarness()
        let real = "\(h.pins.path)/real"
        try BPFFS.makeDirectories(real)
        try FileManager.default.createSymbolicLink(atPath: "\(h.pins.path)/link", withDestinationPath: real)
        var spec = try h.decode(file: "\(repositoryRoot)/pipelines/quickstart.yaml")
        spec.pinRoot = "\(h.pins.path)/link"
        let error = #expect(throws: PipelineError.self) { _ = try h.runner(spec).execute(.run) }
        #expect("\(error.map { "\($0)" } ?? "")".contains("goes through the symbolic link \(h.pins.path)/link"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: real).isEmpty)
    }

    @Test(arguments: [("../x", "___x"), ("a/b", "a_b"), ("a.b", "a_b"), ("..", "__"), ("/", "_"), ("", "_"), ("ok_name-1", "ok_name-1")])
    func pinNamesCannotLeaveTheirFolder(_ name: String, _ file: String) {
        #expect(PinNames.file(name) == file)
        #expect(!PinNames.file(name).contains("/") && PinNames.file(name) != ".." && PinNames.file(name) != ".")
    }
}
