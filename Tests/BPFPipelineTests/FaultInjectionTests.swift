import Foundation
import Testing
@testable import BPFLoader
@testable import BPFPipeline
import BPFTestSupport

/// The error a fault hook throws.
struct InjectedFault: Error, CustomStringConvertible {
    var point: String
    var description: String { "injected fault at \(point)" }
}

/// Fault points a run visited, collected by a hook that never throws.
final class FaultRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    func record(_ p: FaultPoint) { lock.lock(); stored.append(p.description); lock.unlock() }
    var points: [String] { lock.lock(); defer { lock.unlock() }; return stored }
}

/// A redeploy that fails anywhere — at every point the runner offers a fault hook, or because the
/// kernel refuses an instance — leaves the previous deployment exactly as it was: the same pins,
/// the same programs and maps behind them, and no file descriptor left open in this process.
@Suite(.enabled(if: KernelGate.enabled, "needs bpf() as root"), .kernel(countingDescriptors: true), .serialized)
struct FaultInjectionTests {
    static let v1 = (a: [100, 200, 300], b: [400, 500, 600])
    static let v2 = (a: [101, 201, 301], b: [401, 501, 601])

    /// The two-object pipeline with `hits` declared as `hitsMap` in both objects.
    static func pipeline(_ values: (a: [Int], b: [Int]), hits hitsMap: String = "{ pin: shared }") -> String {
        DeploymentTests.twoObjectPipeline(root: "/sys/fs/bpf/unused", values: values.a, values.b)
            .replacingOccurrences(of: "hits: { pin: shared }", with: "hits: \(hitsMap)")
    }

    /// Every value v1's instances return, by pin path.
    static func expectV1Runs(_ h: PipelineHarness, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for (object, values) in [("a", v1.a), ("b", v1.b)] {
            for (n, v) in values.enumerated() {
                #expect(try h.run("\(h.pins.path)/two/\(object)/progs/tagged/\(n)") == UInt32(v), sourceLocation: sourceLocation)
            }
        }
    }

    /// The fault points a successful run of `spec` visits, from a dry run into a pin root of its own.
    static func faultPoints(_ h: PipelineHarness, _ spec: PipelineSpec) throws -> [String] {
        let elsewhere = try PinDirectory()
        var dry = spec
        dry.pinRoot = elsewhere.path
        let recorder = FaultRecorder()
        var runner = h.runner(dry)
        runner.faultHook = { recorder.record($0) }
        _ = try runner.execute(.run)
        return recorder.points
    }

    @Test func aDryRunVisitsEveryStepOfEveryObjectAndEveryInstance() throws {
        let h = try PipelineHarness()
        let points = try Self.faultPoints(h, try h.decode(text: Self.pipeline(Self.v2)))
        for object in ["a", "b"] {
            var expected = ["build \(object)", "open \(object)", "relocate \(object)", "preprocess \(object)",
                            "pin \(object) pinned", "pin \(object) swapped"]
            expected += (0..<3).flatMap { ["preprocess \(object) tagged[\($0)]", "load \(object) tagged[\($0)]"] }
            #expect(Set(points).isSuperset(of: expected), "\(points)")
        }
        #expect(points.count == Set(points).count, "\(points)")
    }

    @Test(arguments: ["{ pin: shared }", "{ pin: shared, max-entries: 8, on-mismatch: recreate }"])
    func aFailureAtEveryFaultPointOfARedeployLeavesV1AsItWas(_ hits: String) throws {
        let h = try PipelineHarness()
        _ = try h.runner(try h.decode(text: Self.pipeline(Self.v1))).execute(.run)
        try PinTree.write("\(h.pins.path)/two/shared/hits", key: 0, value: 77)
        let v2 = try h.decode(text: Self.pipeline(Self.v2, hits: hits))
        let points = try Self.faultPoints(h, v2)
        try #require(points.count >= 20)

        let before = try PinTree.snapshot(h.pins.path)
        let descriptors = try openFileDescriptorCount()
        for point in points {
            var runner = h.runner(v2)
            runner.faultHook = { if $0.description == point { throw InjectedFault(point: point) } }
            let error = #expect(throws: (any Error).self, "fault at \(point)") { _ = try runner.execute(.run) }
            #expect("\(error.map { "\($0)" } ?? "")".contains("injected fault at \(point)"), "\(point): \(error.map { "\($0)" } ?? "")")
            #expect(try openFileDescriptorCount() == descriptors, "after a fault at \(point)")
            try Self.expectV1Runs(h)
            // With `on-mismatch: recreate` the new shared map took the pin at relocation; the
            // failed run must have put the old one (and its entries) back.
            #expect(try PinTree.snapshot(h.pins.path) == before, "after a fault at \(point)")
            let hitsMap = try BPFFS.openPinned("\(h.pins.path)/two/shared/hits")
            #expect(try BPFCommand.lookupElement(map: hitsMap, key: .le(UInt32(0)), valueSize: 8).get() == .le(UInt64(77)), "after a fault at \(point)")
        }

        // And the same v2 without a fault deploys.
        _ = try h.runner(v2).execute(.run)
        #expect(try h.run("\(h.pins.path)/two/b/progs/tagged/2") == 601)
    }

    @Test func aKernelRejectionOfOneInstanceLeavesV1AsItWas() throws {
        let h = try PipelineHarness()
        _ = try h.runner(try h.decode(text: Self.pipeline(Self.v1))).execute(.run)
        // b's third instance reads r9 before anything wrote it (the first two set r9, the third
        // r8): the verifier refuses it after every instance of a and two of b loaded.
        let prologue = [
            "          - stage: prologue",
            "            with:",
            "              values: [9, 9, 8]",
            "              instructions: [\"r{value} = 0\", \"r0 = r9\"]",
        ].joined(separator: "\n")
        let bad = try h.decode(text: Self.pipeline(Self.v2).replacingOccurrences(
            of: "values: [401, 501, 601] }", with: "values: [401, 501, 601] }\n" + prologue))
        let before = try PinTree.snapshot(h.pins.path)
        let descriptors = try openFileDescriptorCount()
        let error = #expect(throws: LoaderError.self) { _ = try h.runner(bad).execute(.run) }
        #expect(error?.verifierLog?.contains("R9 !read_ok") == true, "\(error.map { "\($0)" } ?? "")")
        #expect(try PinTree.snapshot(h.pins.path) == before)
        #expect(try openFileDescriptorCount() == descriptors)
        try Self.expectV1Runs(h)
        let failure = try h.records().last { $0["level"] as? String == "error" }
        #expect(failure?["step"] as? String == "load" && failure?["object"] as? String == "b")
        #expect(failure?["program"] as? String == "tagged" && failure?["instance"] as? Int == 2)
    }
}
