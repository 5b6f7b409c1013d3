import Foundation
import Testing
@testable import BPFLoader
@testable import BPFPipeline
import BPFTestSupport

/// A redeploy that fails at any point after its first attach detaches everything it attached
/// (no link id it logged is left in the kernel), leaves the pins (links included) exactly as they
/// were, leaks no fd, and the previous deployment's programs keep counting.
@Suite(.enabled(if: KernelGate.enabled, "needs bpf() as root"), .kernel(countingDescriptors: true), .serialized)
struct AttachRollbackTests {
    @Test func aFailureAtEveryPointAfterTheFirstAttachDetachesEverythingAndV1KeepsCounting() throws {
        let h = try PipelineHarness()
        let text = Getpid.pipeline(programs: Getpid.twoPrograms)
        _ = try h.runner(try h.decode(text: text)).execute(.run)
        let v2 = try h.decode(text: text)
        let points = try FaultInjectionTests.faultPoints(h, v2)
        let first = try #require(points.firstIndex { $0.hasPrefix("attach ") }, "\(points)")
        let after = Array(points[first...])
        #expect(Set(after).isSuperset(of: ["attach o count_getpid[0]", "attach o count_slot[0]", "attach o count_slot[1]", "pin o swapped"]), "\(after)")

        let v1Map = try BPFFS.openPinned("\(h.pins.path)/att/o/maps/calls")
        let before = try PinTree.snapshot(h.pins.path)
        #expect(before.values.filter { $0.hasPrefix("link ") }.count == 3, "\(before)")
        let descriptors = openFileDescriptorCount()
        for point in after {
            let from = h.lines.lines.count
            var runner = h.runner(v2)
            runner.faultHook = { if $0.description == point { throw InjectedFault(point: point) } }
            let error = #expect(throws: InjectedFault.self, "fault at \(point)") { _ = try runner.execute(.run) }
            #expect(error?.point == point)
            let attached = Getpid.loggedLinkIDs(try h.records(from: from))
            #expect(!attached.isEmpty, "a fault at \(point) comes after an attach")
            #expect(try Getpid.linksGone(attached), "after a fault at \(point): links \(attached) still attached")
            #expect(try PinTree.snapshot(h.pins.path) == before, "after a fault at \(point)")
            #expect(openFileDescriptorCount() == descriptors, "after a fault at \(point)")
            // v1 still runs: all three of its links count this thread's calls.
            let counts = try (0..<3).map { try Getpid.count(v1Map, UInt32($0)) }
            Getpid.call(2)
            _ = getppid()
            #expect(try (0..<3).map { try Getpid.count(v1Map, UInt32($0)) } == [counts[0] + 2, counts[1] + 2, counts[2] + 1], "after a fault at \(point)")
        }
    }
}
