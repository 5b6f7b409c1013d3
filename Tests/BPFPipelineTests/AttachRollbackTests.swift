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
        // Two objects, so that a failure can come after one object's folder was swapped in.
        let one = Getpid.pipeline(programs: Getpid.twoPrograms)
        let second = one[one.range(of: "  - name: o\n")!.lowerBound...].replacingOccurrences(of: "  - name: o\n", with: "  - name: p\n")
        let text = one + "\n" + second
        _ = try h.runner(try h.decode(text: text)).execute(.run)
        let v2 = try h.decode(text: text)
        let points = try FaultInjectionTests.faultPoints(h, v2)
        let first = try #require(points.firstIndex { $0.hasPrefix("attach ") }, "\(points)")
        let after = Array(points[first...])
        #expect(Set(after).isSuperset(of: ["attach o count_getpid[0]", "attach o count_slot[0]", "attach o count_slot[1]", "pin o swapped",
                                           "attach p count_getpid[0]", "attach p count_slot[1]", "pin p swapped"]), "\(after)")

        print("attach rollback: \(after.count) fault points after the first attach: \(after)")
        let v1Maps = try ["o", "p"].map { try BPFFS.openPinned("\(h.pins.path)/att/\($0)/maps/calls") }
        let before = try PinTree.snapshot(h.pins.path)
        #expect(before.values.filter { $0.hasPrefix("link ") }.count == 6, "\(before)")
        let descriptors = try openFileDescriptorCount()
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
            #expect(try openFileDescriptorCount() == descriptors, "after a fault at \(point)")
            // v1 still runs: all six of its links count this thread's calls.
            let counts = try v1Maps.map { map in try (0..<3).map { try Getpid.count(map, UInt32($0)) } }
            Getpid.call(2)
            _ = getppid()
            for (map, c) in zip(v1Maps, counts) {
                #expect(try (0..<3).map { try Getpid.count(map, UInt32($0)) } == [c[0] + 2, c[1] + 2, c[2] + 1], "after a fault at \(point)")
            }
        }
    }
}
