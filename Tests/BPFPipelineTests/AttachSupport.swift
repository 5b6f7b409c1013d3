import Foundation
import Testing
@testable import BPFLoader
@testable import BPFPipeline
import BPFTestSupport

/// The getpid() counter fixture and what the attach tests need around it: a pipeline that counts
/// this thread's calls, reading the counters, and asking the kernel which links exist.
enum Getpid {
    static let source = "../Tests/BPFPipelineTests/Pipelines/fixtures/getpid_counter.bpf.c"

    /// This thread's id: the fixture counts only its calls.
    /// (Glibc's gettid() is not visible to Swift; /proc/thread-self links to "<pid>/task/<tid>".)
    static var thread: Int32 {
        let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")) ?? ""
        return Int32(target.split(separator: "/").last ?? "") ?? 0
    }

    /// A one-object pipeline `att` (object `o`) whose `programs:` are `programs` (indented 6).
    static func pipeline(tid: Int32 = Getpid.thread, programs: String, root: String? = nil, cflags: String = "[]", source: String = Getpid.source) -> String {
        """
        version: 1
        name: att
        \(root.map { "pin-root: \($0)" } ?? "")
        objects:
          - name: o
            build: { source: \(source), cflags: \(cflags) }
            globals: { target_tid: \(tid) }
            programs:
        \(programs.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n"))
        """
    }

    /// count_getpid attaches by its section; count_slot's two instances are attached to getpid
    /// (counting in calls[1]) and getppid (calls[2]).
    static let twoPrograms = """
    allow_sock: { load: false }
    pass_xdp: { load: false }
    pass_tc: { load: false }
    count_getpid:
    count_slot:
      instances: 2
      attach:
        - tracepoint: syscalls/sys_enter_getpid
        - tracepoint: syscalls/sys_enter_getppid
      preprocess:
        - stage: patch-imm
          with: { values: [1, 2] }
    """

    /// Only count_getpid, attached by its section.
    static let getpidOnly = "count_getpid:\ncount_slot: { load: false }\nallow_sock: { load: false }\npass_xdp: { load: false }\npass_tc: { load: false }"

    /// calls[slot] of the map pinned at (or opened as) `map`.
    static func count(_ map: FileDescriptor, _ slot: UInt32) throws -> UInt64 {
        let bytes = try #require(try BPFCommand.lookupElement(map: map, key: .le(slot), valueSize: 8).get())
        return bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    }

    static func count(_ mapPin: String, _ slot: UInt32) throws -> UInt64 {
        try count(try BPFFS.openPinned(mapPin), slot)
    }

    /// Calls getpid() `n` times from this thread.
    static func call(_ n: Int) {
        for _ in 0..<n { _ = getpid() }
    }

    /// Ids of every link the kernel has now, from `bpftool link list`.
    /// bpftool walks the ids and then opens each link; one that goes in between (other tests run
    /// alongside) makes it fail, so a failed listing is tried again, up to 10 times.
    static func kernelLinkIDs() throws -> Set<UInt32> {
        var r = try runProcess("/usr/sbin/bpftool", ["-j", "link", "list"])
        for _ in 0..<9 where r.status != 0 { r = try runProcess("/usr/sbin/bpftool", ["-j", "link", "list"]) }
        guard r.status == 0 else { throw FixtureFailure("bpftool link list failed: \(r.stdout) \(r.stderr)") }
        let list = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        return Set(list.compactMap { ($0["id"] as? NSNumber)?.uint32Value })
    }

    /// Whether none of `ids` is a link the kernel has. A link goes when its last pin and fd do, but
    /// bpffs drops a removed pin's reference after an RCU grace period, so this waits (at most 10 s).
    static func linksGone(_ ids: some Sequence<UInt32>) throws -> Bool {
        let deadline = Date().addingTimeInterval(10)
        while true {
            if try kernelLinkIDs().isDisjoint(with: ids) { return true }
            if Date() > deadline { return false }
            usleep(20_000)
        }
    }

    /// Whether slot `slot` of `map` stops counting this thread's getpid() calls. The kernel drops
    /// a link's id before it detaches the program (and bpffs lets go of a removed pin after an RCU
    /// grace period), so this calls getpid() until one call leaves the counter where it was
    /// (at most 10 s), then checks that 3 more calls do too.
    static func stopsCounting(_ map: FileDescriptor, _ slot: UInt32 = 0) throws -> Bool {
        let deadline = Date().addingTimeInterval(10)
        while true {
            let c = try count(map, slot)
            call(1)
            if try count(map, slot) == c { break }
            if Date() > deadline { return false }
            usleep(5_000)
        }
        let c = try count(map, slot)
        call(3)
        return try count(map, slot) == c
    }

    /// The link ids a run logged ("attached" and "link updated in place" records).
    static func loggedLinkIDs(_ records: [[String: Any]]) -> [UInt32] {
        records.filter { $0["step"] as? String == "attach" && $0["link_id"] != nil }.compactMap { ($0["link_id"] as? NSNumber)?.uint32Value }
    }

    /// A pid no process has now (for staging folders of "killed" runs).
    static func deadPID() throws -> Int32 {
        let max = Int32((try? String(contentsOfFile: "/proc/sys/kernel/pid_max", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "32768") ?? 32768
        for pid in stride(from: max - 1, to: 300, by: -1) where kill(pid, 0) != 0 && errno == ESRCH { return pid }
        throw FixtureFailure("no free pid")
    }
}

extension PipelineHarness {
    /// The records logged from line `from` on (one run's, when `from` is the count before it).
    func records(from: Int) throws -> [[String: Any]] {
        Array(try records().dropFirst(from))
    }
}
