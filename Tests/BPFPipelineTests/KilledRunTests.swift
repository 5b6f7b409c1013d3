import Foundation
import Testing
@testable import BPFLoader
@testable import BPFPipeline
import BPFTestSupport

/// Runs killed mid-way (SIGKILL) leave `<deployment>/_staging_<pid>` with links that may still be
/// attached. The next run, `status` or `down` finds the folders of dead processes, says so and
/// removes them (which detaches their links), putting back a previous deployment caught
/// half-swapped. The folders are made here as a killed run leaves them: a deployment made
/// elsewhere, with its links attached, moved under a pid no process has.
@Suite(.enabled(if: KernelGate.enabled, "needs bpf() as root"), .kernel, .serialized)
struct KilledRunTests {
    /// Deploys `programs` under a pin root of its own and moves its object folder to `to`;
    /// returns the moved folder's map (kept open) and the ids of its links.
    static func killedRunFolder(programs: String = Getpid.getpidOnly, to: String, h: PipelineHarness) throws -> (map: FileDescriptor, links: [UInt32], root: PinDirectory) {
        let elsewhere = try PinDirectory()
        var spec = try h.decode(text: Getpid.pipeline(programs: programs))
        spec.pinRoot = elsewhere.path
        let result = try h.runner(spec).execute(.run)
        let links = result.report.objects[0].links.map(\.linkID)
        let map = try BPFFS.openPinned("\(elsewhere.path)/att/o/maps/calls")
        try FileManager.default.createDirectory(atPath: Paths.directory(of: to), withIntermediateDirectories: true)
        #expect(rename("\(elsewhere.path)/att/o", to) == 0, "\(String(cString: strerror(errno)))")
        return (map, links, elsewhere)
    }

    @Test func theNextRunRemovesAKilledRunsStagingFolderAndDetachesItsLinks() throws {
        let h = try PipelineHarness()
        let spec = try h.decode(text: Getpid.pipeline(programs: Getpid.getpidOnly))
        _ = try h.runner(spec).execute(.run)
        let dead = try Getpid.deadPID()
        let staging = "\(h.pins.path)/att/_staging_\(dead)"
        let killed = try Self.killedRunFolder(to: "\(staging)/o", h: h)
        // Still attached: the killed run's program counts.
        let c = try Getpid.count(killed.map, 0)
        Getpid.call(2)
        #expect(try Getpid.count(killed.map, 0) == c + 2)

        let from = h.lines.lines.count
        _ = try h.runner(spec).execute(.run)
        let record = try h.records(from: from).first { $0["msg"] as? String == "removed the staging folder of a killed run" }
        #expect(record?["level"] as? String == "warning" && record?["staging"] as? String == staging)
        #expect(record?["pid"] as? Int == Int(dead) && record?["links"] as? Int == 1)
        #expect(!Paths.exists(staging))
        #expect(try Getpid.linksGone(killed.links))
        #expect(try Getpid.stopsCounting(killed.map))
    }

    /// Killed between the two renames of the swap: the previous deployment's folder is inside the
    /// staging folder and the killed run's is in its place. Cleaning puts the previous one back.
    @Test func aDeploymentCaughtHalfSwappedGetsItsPreviousFolderBack() throws {
        let h = try PipelineHarness()
        let spec = try h.decode(text: Getpid.pipeline(programs: Getpid.getpidOnly))
        _ = try h.runner(spec).execute(.run)
        let final = "\(h.pins.path)/att/o"
        let v1 = try PinTree.snapshot(final)
        let v1Map = try BPFFS.openPinned("\(final)/maps/calls")
        let dead = try Getpid.deadPID()
        let staging = "\(h.pins.path)/att/_staging_\(dead)"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: false)
        #expect(rename(final, "\(staging)/_previous_o") == 0)
        let killed = try Self.killedRunFolder(to: final, h: h)

        let found = Deployment(spec: spec).removeKilledRuns()
        #expect(found.map(\.path) == [staging] && found.first?.restored == ["o"] && found.first?.links == 1)
        #expect(try PinTree.snapshot(final) == v1)
        #expect(try Getpid.linksGone(killed.links))
        let c = try Getpid.count(v1Map, 0)
        Getpid.call(3)
        #expect(try Getpid.count(v1Map, 0) == c + 3)
    }

    /// A killed redeploy that had updated a cgroup link in place leaves it running its program;
    /// putting the previous folder back gives the link the previous program again.
    @Test func aLinkUpdatedInPlaceByAKilledRunGetsThePreviousProgramBack() throws {
        let h = try PipelineHarness()
        let cgroup = try GaplessRedeployTests.Cgroup()
        let programs = "count_getpid: { load: false }\ncount_slot: { load: false }\npass_xdp: { load: false }\npass_tc: { load: false }\nallow_sock: { attach: { cgroup: { path: \(cgroup.path) } } }"
        let spec = try h.decode(text: Getpid.pipeline(programs: programs))
        _ = try h.runner(spec).execute(.run)
        let final = "\(h.pins.path)/att/o"
        let link = try BPFLink.openPinned("\(final)/links/allow_sock")
        let v1 = try link.info()

        // The killed run: its own folder (programs only), the old link updated to its program and
        // pinned in its folder, swapped in, the previous folder left in the staging folder.
        let dead = try Getpid.deadPID()
        let staging = "\(h.pins.path)/att/_staging_\(dead)"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: false)
        let killed = try Self.killedRunFolder(programs: programs.replacingOccurrences(of: "{ attach: { cgroup: { path: \(cgroup.path) } } }", with: "{ attach: false }"),
                                              to: "\(staging)/o", h: h)
        let newProgram = try BPFFS.openPinned("\(staging)/o/progs/allow_sock")
        try link.update(program: newProgram)
        _ = try BPFFS.makeDirectories("\(staging)/o/links")
        try link.pin(at: "\(staging)/o/links/allow_sock")
        #expect(rename(final, "\(staging)/_previous_o") == 0)
        #expect(rename("\(staging)/o", final) == 0)
        #expect(try link.info().programID != v1.programID)
        _ = killed

        let found = Deployment(spec: spec).removeKilledRuns()
        #expect(found.first?.restored == ["o"])
        let after = try BPFLink.openPinned("\(final)/links/allow_sock").info()
        #expect(after.id == v1.id && after.programID == v1.programID)
        #expect(after.programID == (try PinTree.programID("\(final)/progs/allow_sock")))
    }

    @Test func statusAndDownSayWhatTheyFoundAndRemoveIt() throws {
        let h = try PipelineHarness()
        let file = try PipelineFile(Getpid.pipeline(programs: Getpid.getpidOnly, root: h.pins.path,
                                                    source: "\(repositoryRoot)/Tests/BPFPipelineTests/Pipelines/fixtures/getpid_counter.bpf.c"))
        let run = try runBPFPipe(["run", file.path, "--cache-dir", file.cache])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("1 link(s) at \(h.pins.path)/att"), "\(run.stdout)")
        for command in ["status", "down"] {
            let dead = try Getpid.deadPID()
            let staging = "\(h.pins.path)/att/_staging_\(dead)"
            let killed = try Self.killedRunFolder(to: "\(staging)/o", h: h)
            let r = try runBPFPipe([command, file.path] + (command == "status" ? ["--cache-dir", file.cache] : []))
            #expect(r.stdout.contains("removed \(staging), left by killed run (pid \(dead)): 1 link(s) detached"), "\(command): \(r.stdout) \(r.stderr)")
            #expect(!Paths.exists(staging))
            #expect(try Getpid.linksGone(killed.links))
            if command == "status" {
                #expect(r.status == 0 && r.stdout.contains("up to date"), "\(r.stdout) \(r.stderr)")
            } else {
                #expect(r.status == 0 && r.stdout.contains("(1 link(s) detached)"), "\(r.stdout) \(r.stderr)")
            }
        }
    }
}

/// A real `bpfpipe run` killed with SIGKILL at a chosen point: a uprobe on libc's rename()
/// (deployed with bpfpipe itself) sends the signal from inside the kernel at the child's n-th
/// rename(), the first of which is the swap's, after every link was attached in staging.
@Suite(.enabled(if: KernelGate.enabled, "needs bpf() as root"), .kernel, .serialized)
struct SigkilledRunTests {
    static var libc: String {
        get throws {
            // Read to the end: /proc files have no size, and a process with many mappings (a
            // whole test run) has libc beyond what a single read returns.
            let bytes = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/self/maps")).readToEnd() ?? Data()
            let maps = String(decoding: bytes, as: UTF8.self)
            if let line = maps.split(separator: "\n").first(where: { $0.hasSuffix("/libc.so.6") }), let path = line.split(separator: " ").last {
                return String(path)
            }
            // Debian's place for it, should the mapping be listed under another name.
            var u = utsname()
            uname(&u)
            let machine = withUnsafeBytes(of: &u.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            let known = "/usr/lib/\(machine)-linux-gnu/libc.so.6"
            guard FileManager.default.fileExists(atPath: known) else { throw FixtureFailure("libc.so.6 is not mapped") }
            return known
        }
    }

    /// Runs `bpfpipe run FILE` in a child that rename() #`killAt` kills; returns the child's pid.
    static func killedRun(_ file: PipelineFile, killAt: Int, h: PipelineHarness) throws -> Int32 {
        let fifo = "\(file.directory)/go"
        #expect(mkfifo(fifo, 0o600) == 0)
        // The shell waits on the FIFO, then becomes bpfpipe (same pid), so the killer can be
        // loaded for that pid before bpfpipe starts.
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sh")
        child.arguments = ["-c", "read x < \"$0\"; exec \"$1\" run \"$2\" --force --cache-dir \"$3\" 2>/dev/null", fifo, bpfpipeExecutable, file.path, file.cache]
        // Not the test's own stdout: a child left behind would hold swift test's pipe open.
        child.standardOutput = FileHandle.nullDevice
        child.standardError = FileHandle.nullDevice
        try child.run()
        let pid = child.processIdentifier
        // Whatever fails below, the child (maybe still waiting on the FIFO) does not outlive it.
        defer { if child.isRunning { kill(pid, SIGKILL); child.waitUntilExit() } }
        let killer = try PinDirectory()
        var spec = try h.decode(text: """
        version: 1
        name: killer
        objects:
          - name: k
            build: { source: ../Tests/BPFPipelineTests/Pipelines/fixtures/kill_at_rename.bpf.c }
            globals: { target_tgid: \(pid), kill_at: \(killAt) }
            programs:
              kill_on_rename: { attach: { uprobe: { binary: \(try libc), function: rename } } }
        """)
        spec.pinRoot = killer.path
        _ = try h.runner(spec).execute(.run)
        try "go\n".write(toFile: fifo, atomically: false, encoding: .utf8)
        let deadline = Date().addingTimeInterval(120)
        while child.isRunning && Date() < deadline { usleep(10_000) }
        if child.isRunning { kill(pid, SIGKILL); throw FixtureFailure("bpfpipe run was not killed") }
        #expect(child.terminationReason == .uncaughtSignal && child.terminationStatus == SIGKILL)
        withExtendedLifetime(killer) {}
        return pid
    }

    @Test(arguments: [1, 2])
    func aRunKilledAfterAttachingIsCleanedUpByTheNextStatus(_ killAt: Int) throws {
        let h = try PipelineHarness()
        let file = try PipelineFile(Getpid.pipeline(programs: Getpid.getpidOnly, root: h.pins.path,
                                                    source: "\(repositoryRoot)/Tests/BPFPipelineTests/Pipelines/fixtures/getpid_counter.bpf.c"))
        #expect(try runBPFPipe(["run", file.path, "--cache-dir", file.cache]).status == 0)
        let final = "\(h.pins.path)/att/o"
        let v1 = try PinTree.snapshot(final)
        let v1Map = try BPFFS.openPinned("\(final)/maps/calls")

        let pid = try Self.killedRun(file, killAt: killAt, h: h)
        let staging = "\(h.pins.path)/att/_staging_\(pid)"
        // What the killed run left: its folder in staging, its link attached and counting.
        let left = "\(staging)/o"
        #expect(Paths.exists("\(left)/links/count_getpid"), "\(h.pins.contents())")
        #expect(Paths.exists("\(staging)/_previous_o") == (killAt == 2) && Paths.exists(final) == (killAt == 1), "\(h.pins.contents())")
        let killedLink = try BPFLink.openPinned("\(left)/links/count_getpid").info().id
        let killedMap = try BPFFS.openPinned("\(left)/maps/calls")
        let c = try Getpid.count(killedMap, 0)
        Getpid.call(2)
        #expect(try Getpid.count(killedMap, 0) == c + 2)

        let status = try runBPFPipe(["status", file.path, "--cache-dir", file.cache])
        #expect(status.stdout.contains("removed \(staging), left by killed run (pid \(pid)): 1 link(s) detached" + (killAt == 2 ? ", previous o put back" : "")), "\(status.stdout)")
        #expect(status.status == 0 && status.stdout.contains("up to date"), "\(status.stdout) \(status.stderr)")
        #expect(try PinTree.snapshot(final) == v1)
        #expect(try Getpid.linksGone([killedLink]))
        #expect(try Getpid.stopsCounting(killedMap))
        let v1Count = try Getpid.count(v1Map, 0)
        Getpid.call(3)
        #expect(try Getpid.count(v1Map, 0) == v1Count + 3)
    }
}

/// `status` with links: a missing link pin, an extra one, and links that run another program
/// than the instance pinned beside them.
@Suite(.enabled(if: KernelGate.enabled, "needs bpf() as root"), .kernel, .serialized)
struct LinkStatusTests {
    @Test func statusReportsMissingExtraAndMisattachedLinks() throws {
        let h = try PipelineHarness()
        let file = try PipelineFile(Getpid.pipeline(programs: Getpid.twoPrograms, root: h.pins.path,
                                                    source: "\(repositoryRoot)/Tests/BPFPipelineTests/Pipelines/fixtures/getpid_counter.bpf.c"))
        #expect(try runBPFPipe(["run", file.path, "--cache-dir", file.cache]).status == 0)
        let links = "\(h.pins.path)/att/o/links"
        func status() throws -> ProcessResult { try runBPFPipe(["status", file.path, "--cache-dir", file.cache]) }
        let clean = try status()
        #expect(clean.status == 0 && clean.stdout.contains("up to date"), "\(clean.stdout) \(clean.stderr)")

        // The two instances' links swapped: each runs the other instance.
        let p0 = try PinTree.programID("\(h.pins.path)/att/o/progs/count_slot/0")
        let p1 = try PinTree.programID("\(h.pins.path)/att/o/progs/count_slot/1")
        #expect(rename("\(links)/count_slot/0", "\(links)/count_slot/x") == 0)
        #expect(rename("\(links)/count_slot/1", "\(links)/count_slot/0") == 0)
        #expect(rename("\(links)/count_slot/x", "\(links)/count_slot/1") == 0)
        let swapped = try status()
        #expect(swapped.status == 1)
        #expect(swapped.stdout.contains("link     \(links)/count_slot/0 runs program \(p1), not the deployed instance \(p0)"), "\(swapped.stdout)")
        #expect(swapped.stdout.contains("link     \(links)/count_slot/1 runs program \(p0), not the deployed instance \(p1)"), "\(swapped.stdout)")

        // A link pin gone, another where none is declared.
        #expect(rename("\(links)/count_getpid", "\(links)/stray") == 0)
        let moved = try status()
        #expect(moved.status == 1)
        #expect(moved.stdout.contains("missing  \(links)/count_getpid") && moved.stdout.contains("extra    \(links)/stray"), "\(moved.stdout)")

        let json = try runBPFPipe(["status", file.path, "--cache-dir", file.cache, "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let misattached = object["misattached"] as? [[String: Any]] ?? []
        #expect(misattached.compactMap { $0["link"] as? String } == ["\(links)/count_slot/0", "\(links)/count_slot/1"])
        #expect(misattached.first?["linkProgramID"] as? Int == Int(p1) && misattached.first?["deployedProgramID"] as? Int == Int(p0))
    }
}
