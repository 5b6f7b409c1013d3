import Foundation
import Testing
@testable import BPFLoader
@testable import BPFPipeline
import BPFTestSupport

/// `run` as fleet engines expect it: a deployment that already matches the file is left alone;
/// anything that reaches the kernel counts as a change, comments and key order do not.
@Suite(.enabled(if: KernelGate.enabled, "needs bpf() as root"), .kernel)
struct IdempotenceTests {
    /// The quickstart object, with knobs for each kind of change. `extra` is spliced in verbatim.
    static func pipeline(values: String = "[0, 1, 2, 3]", maxEntries: Int = 4, cflags: String = "[\"-DSLOTS=4\"]",
                         marker: Int = 7, extra: String = "") -> String {
        """
        version: 1
        name: idem
        objects:
          - name: counters
            build: { source: ../examples/counters/counters.bpf.c, cflags: \(cflags) }
            maps:
              hits: { max-entries: \(maxEntries) }
            programs:
              count_pkts:
                instances: 4
                preprocess:
                  - stage: set-global
                    with: { variable: slot, values: \(values) }
              tagged:
                preprocess:
                  - stage: patch-imm
                    with: { marker: 0x0badcafe, values: [\(marker)] }
              with_arg: { load: false }
        \(extra)
        """
    }

    /// Program ids of every pinned instance: equal before and after means nothing was reloaded.
    static func programIDs(_ h: PipelineHarness) throws -> [String: UInt32] {
        let base = "\(h.pins.path)/idem/counters/progs"
        var ids: [String: UInt32] = [:]
        for n in 0..<4 { ids["count_pkts/\(n)"] = try PinTree.programID("\(base)/count_pkts/\(n)") }
        ids["tagged"] = try PinTree.programID("\(base)/tagged")
        return ids
    }

    @Test func aSecondRunOfTheSameFileChangesNothingAndSaysSo() throws {
        let h = try PipelineHarness()
        let first = try h.runner(try h.decode(text: Self.pipeline())).deploy()
        #expect(first.report.changed)
        let ids = try Self.programIDs(h)
        let maps = try PinTree.mapID("\(h.pins.path)/idem/counters/maps/hits")

        let second = try h.runner(try h.decode(text: Self.pipeline())).deploy()
        #expect(!second.report.changed)
        #expect(try Self.programIDs(h) == ids, "no program was reloaded")
        #expect(try PinTree.mapID("\(h.pins.path)/idem/counters/maps/hits") == maps, "no map was replaced")
        let last = try #require(try h.records().last)
        #expect(last["changed"] as? Bool == false)
        #expect((last["msg"] as? String)?.hasPrefix("unchanged") == true)
    }

    @Test func forceRedeploysAMatchingDeployment() throws {
        let h = try PipelineHarness()
        _ = try h.runner(try h.decode(text: Self.pipeline())).deploy()
        let ids = try Self.programIDs(h)
        let forced = try h.runner(try h.decode(text: Self.pipeline())).deploy(force: true)
        #expect(forced.report.changed)
        let after = try Self.programIDs(h)
        #expect(after.allSatisfy { ids[$0.key] != $0.value }, "every instance was reloaded")
        #expect(try h.records().last?["changed"] as? Bool == true)
    }

    /// Each change reaches the kernel: a global, a stage's values, the object's bytes, a map
    /// definition. Each is seen by diff and redeployed by run.
    @Test(arguments: [
        ("a set-global value", pipeline(values: "[3, 2, 1, 0]")),
        ("a patch-imm value", pipeline(marker: 9)),
        ("the object's bytes (a compile flag)", pipeline(cflags: "[\"-DSLOTS=4\", \"-DUNUSED=1\"]")),
        ("a map definition", pipeline(maxEntries: 8)),
    ])
    func aChangeThatReachesTheKernelIsRedeployed(_ what: String, _ changed: String) throws {
        let h = try PipelineHarness()
        _ = try h.runner(try h.decode(text: Self.pipeline())).deploy()
        let ids = try Self.programIDs(h)

        let plan = try h.runner(try h.decode(text: changed)).execute(.plan)
        let diff = try Deployment(spec: try h.decode(text: changed)).diff(plan: plan)
        #expect(diff.changed, "diff sees \(what)")
        #expect(diff.objects.map(\.action) == ["replace"])

        let run = try h.runner(try h.decode(text: changed)).deploy()
        #expect(run.report.changed, "run redeploys after \(what)")
        #expect(try Self.programIDs(h) != ids)
        #expect(!(try h.runner(try h.decode(text: changed)).deploy().report.changed), "and the run after that is unchanged")
    }

    /// Comments and key order are the file's, not the kernel's.
    @Test func commentsAndKeyOrderAreNoChange() throws {
        let h = try PipelineHarness()
        _ = try h.runner(try h.decode(text: Self.pipeline())).deploy()
        let ids = try Self.programIDs(h)
        let reordered = """
            # The same deployment, written differently.
            name: idem          # name before version
            version: 1
            objects:
              - programs:
                  with_arg: { load: false }
                  tagged:
                    preprocess:
                      - with: { values: [7], marker: 0x0badcafe }
                        stage: patch-imm
                  count_pkts:
                    preprocess:
                      - stage: set-global
                        with: { values: [0, 1, 2, 3], variable: slot }   # same values
                    instances: 4
                maps:
                  hits: { max-entries: 4 }
                build: { cflags: ["-DSLOTS=4"], source: ../examples/counters/counters.bpf.c }
                name: counters
            """
        let plan = try h.runner(try h.decode(text: reordered)).execute(.plan)
        #expect(!(try Deployment(spec: try h.decode(text: reordered)).diff(plan: plan).changed))
        #expect(!(try h.runner(try h.decode(text: reordered)).deploy().report.changed))
        #expect(try Self.programIDs(h) == ids)
    }

    @Test func diffListsMapDifferencesAndTagsAndExitsOneThroughTheCLI() throws {
        let h = try PipelineHarness()
        let file = try PipelineFile(Self.pipeline().replacingOccurrences(of: "name: idem", with: "name: idem\npin-root: \(h.pins.path)")
            .replacingOccurrences(of: "../examples", with: "\(repositoryRoot)/examples"))
        let cache = ["--cache-dir", file.cache]
        #expect(try runBPFPipe(["diff", file.path] + cache).status == 1, "nothing deployed yet: a run would change things")
        #expect(try runBPFPipe(["run", file.path] + cache).status == 0)
        let clean = try runBPFPipe(["diff", file.path] + cache)
        #expect(clean.status == 0)
        #expect(clean.stdout.contains("no changes"))
        let again = try runBPFPipe(["run", file.path] + cache)
        #expect(again.status == 0)
        #expect(again.stdout.hasPrefix("unchanged idem"))

        try Self.pipeline(maxEntries: 8).replacingOccurrences(of: "name: idem", with: "name: idem\npin-root: \(h.pins.path)")
            .replacingOccurrences(of: "../examples", with: "\(repositoryRoot)/examples")
            .write(toFile: file.path, atomically: true, encoding: .utf8)
        let changed = try runBPFPipe(["diff", file.path, "--json"] + cache)
        #expect(changed.status == 1)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(changed.stdout.utf8)) as? [String: Any])
        #expect(json["changed"] as? Bool == true)
        let object = try #require((json["objects"] as? [[String: Any]])?.first)
        let hits = try #require((object["maps"] as? [[String: Any]])?.first { $0["name"] as? String == "hits" })
        #expect(hits["action"] as? String == "replace")
        #expect(hits["differences"] as? [String] == ["max entries: pinned 4, object wants 8"])
        let instance = try #require((object["instances"] as? [[String: Any]])?.first)
        #expect(instance["codeChanged"] as? Bool == false, "only the map changed, not the code")
        #expect(instance["oldTag"] as? String == instance["newTag"] as? String)
        #expect(try runBPFPipe(["down", file.path]).status == 0)
    }
}

/// Links are part of what `run` compares: an unchanged rerun keeps the same links attached, a
/// changed attach target is a redeploy, and a link removed by hand is put back.
@Suite(.enabled(if: KernelGate.enabled, "needs bpf() as root"), .kernel, .serialized)
struct IdempotentAttachTests {
    static func pipeline(second target: String) -> String {
        Getpid.pipeline(programs: """
            allow_sock: { load: false }
            pass_xdp: { load: false }
            pass_tc: { load: false }
            count_getpid: { load: false }
            count_slot:
              instances: 2
              attach:
                - tracepoint: syscalls/sys_enter_getpid
                - tracepoint: \(target)
              preprocess:
                - stage: patch-imm
                  with: { values: [1, 2] }
            """)
    }

    static func linkIDs(_ h: PipelineHarness) throws -> [UInt32] {
        try (0..<2).map { try BPFLink.openPinned("\(h.pins.path)/att/o/links/count_slot/\($0)").info().id }
    }

    @Test func anUnchangedRerunKeepsTheSameLinksAndAChangedTargetIsARedeploy() throws {
        let h = try PipelineHarness()
        let first = Self.pipeline(second: "syscalls/sys_enter_getppid")
        #expect(try h.runner(try h.decode(text: first)).deploy().report.changed)
        let links = try Self.linkIDs(h)

        #expect(!(try h.runner(try h.decode(text: first)).deploy().report.changed))
        #expect(try Self.linkIDs(h) == links, "the same links are still attached")

        let retargeted = Self.pipeline(second: "syscalls/sys_enter_getpid")
        let plan = try h.runner(try h.decode(text: retargeted)).execute(.plan)
        #expect(try Deployment(spec: try h.decode(text: retargeted)).diff(plan: plan).changed, "diff sees the new target")
        #expect(try h.runner(try h.decode(text: retargeted)).deploy().report.changed)
        #expect(try Self.linkIDs(h) != links)
        // The second instance now counts getpid() calls, in slot 2.
        let map = "\(h.pins.path)/att/o/maps/calls"
        let before = try Getpid.count(map, 2)
        Getpid.call(3)
        #expect(try Getpid.count(map, 2) - before == 3)
    }

    @Test func aLinkRemovedByHandIsPutBackByTheNextRun() throws {
        let h = try PipelineHarness()
        let text = Self.pipeline(second: "syscalls/sys_enter_getppid")
        _ = try h.runner(try h.decode(text: text)).deploy()
        let pin = "\(h.pins.path)/att/o/links/count_slot/1"
        #expect(unlink(pin) == 0)
        let plan = try h.runner(try h.decode(text: text)).execute(.plan)
        let diff = try Deployment(spec: try h.decode(text: text)).diff(plan: plan)
        #expect(diff.addLinks == [pin])
        #expect(try h.runner(try h.decode(text: text)).deploy().report.changed)
        #expect(Paths.exists(pin))
    }
}
