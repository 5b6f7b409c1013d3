import Foundation
import Testing
@testable import BPFLoader
@testable import BPFPipeline
import BPFTestSupport
import Logging

/// A temporary folder holding a BPF C source, a header it includes, and a build cache;
/// `remove()` (in a `defer`) deletes it with everything in it.
struct BuildWorkspace {
    let path: String
    var source: String { "\(path)/answer.bpf.c" }
    var header: String { "\(path)/answer.h" }
    var cache: String { "\(path)/cache" }

    init(answer: Int = 42) throws {
        path = NSTemporaryDirectory() + "bpfpipe-build-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try """
        #include <linux/bpf.h>
        #include <bpf/bpf_helpers.h>
        #include "answer.h"

        char LICENSE[] SEC("license") = "GPL";

        SEC("socket") int answer(struct __sk_buff *skb) { return ANSWER; }
        """.write(toFile: source, atomically: true, encoding: .utf8)
        try setAnswer(answer)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    func setAnswer(_ n: Int) throws {
        try "#define ANSWER \(n)\n".write(toFile: header, atomically: true, encoding: .utf8)
    }

    func build(cflags: [String] = []) throws -> BuildStep.Output {
        try BuildStep(cacheDirectory: cache).build(source: source, cflags: cflags, include: [])
    }

    func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }
}

/// The clang build cache: same inputs give the same object without compiling again, and any input
/// that changes the object (a header, a flag) changes the key.
@Suite struct BuildCacheTests {
    @Test func sameInputsAreACacheHitAtTheSamePath() throws {
        let w = try BuildWorkspace()
        defer { w.remove() }
        let first = try w.build()
        #expect(!first.cacheHit)
        let second = try w.build()
        #expect(second.cacheHit)
        #expect(second.object == first.object)
        #expect(second.key == first.key)
    }

    @Test func rebuildingAfterTheObjectIsDeletedGivesTheSameBytes() throws {
        let w = try BuildWorkspace()
        defer { w.remove() }
        let first = try w.build()
        let original = try w.bytes(first.object)
        try FileManager.default.removeItem(atPath: first.object)
        let again = try w.build()
        #expect(!again.cacheHit)
        #expect(again.object == first.object)
        #expect(try w.bytes(again.object) == original)
    }

    @Test func changingAnIncludedHeaderIsAMissWithANewKey() throws {
        let w = try BuildWorkspace(answer: 42)
        defer { w.remove() }
        let before = try w.build()
        try w.setAnswer(43)
        let after = try w.build()
        #expect(!after.cacheHit)
        #expect(after.key != before.key)
        #expect(after.object != before.object)
        // Both objects stay in the cache, and they differ: the header reached the code.
        #expect(try w.bytes(after.object) != w.bytes(before.object))
        // Back to the old header: the old object again, from the cache.
        try w.setAnswer(42)
        let back = try w.build()
        #expect(back.cacheHit && back.key == before.key)
    }

    @Test func changingCflagsIsAMiss() throws {
        let w = try BuildWorkspace()
        defer { w.remove() }
        let plain = try w.build()
        let flagged = try w.build(cflags: ["-DUNUSED_FLAG=1"])
        #expect(!flagged.cacheHit)
        #expect(flagged.key != plain.key)
        #expect(try w.build(cflags: ["-DUNUSED_FLAG=1"]).cacheHit)
    }

    @Test func compileErrorNamesTheLineAndTheBuildStep() throws {
        let w = try BuildWorkspace()
        defer { w.remove() }
        try """
        #include <linux/bpf.h>
        #include <bpf/bpf_helpers.h>

        SEC("socket") int broken(struct __sk_buff *skb) {
            return undeclared_thing;
        }
        """.write(toFile: w.source, atomically: true, encoding: .utf8)
        let error = try #require(throws: LoaderError.self) { _ = try w.build() }
        #expect(error.step == .build)
        #expect(error.description.contains("\(w.source):5:"))
        #expect(error.description.contains("undeclared_thing"))
        let cached = (try? FileManager.default.contentsOfDirectory(atPath: w.cache)) ?? []
        #expect(cached.isEmpty, "a failed compile left something in the cache: \(cached)")
    }

    @Test func compileErrorInAPipelineIsLoggedAsTheBuildStep() throws {
        let w = try BuildWorkspace()
        defer { w.remove() }
        try "SEC(\"socket\") int broken(void) { return }\n".write(toFile: w.source, atomically: true, encoding: .utf8)
        let p = ValidateHarness(cache: w.cache)
        let error = try #require(throws: LoaderError.self) {
            _ = try p.validate("""
            version: 1
            name: build-error
            objects:
              - name: answer
                build: { source: \(w.source) }
            """)
        }
        #expect(error.step == .build)
        #expect(error.description.contains("\(w.source):1:"))
        let failure = p.lines.lines.first { $0.contains("\"level\":\"error\"") }
        #expect(failure?.contains("\"step\":\"build\"") == true)
        #expect(failure?.contains("answer.bpf.c:1:") == true)
    }
}

/// CI-built and node-built objects must match: the checkout's folder never reaches the object or
/// the cache key.
@Suite struct ReproducibleBuildTests {
    /// Copies the quickstart pipeline and its source into `root` (pipelines/ and examples/ side by
    /// side, as in the repository) and builds it through the runner.
    private func buildCheckout(at root: String, cache: String) throws -> (bytes: Data, name: String) {
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/pipelines", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/examples", withIntermediateDirectories: true)
        try fm.copyItem(atPath: repositoryRoot + "/examples/counters", toPath: root + "/examples/counters")
        try fm.copyItem(atPath: repositoryRoot + "/pipelines/quickstart.yaml", toPath: root + "/pipelines/quickstart.yaml")
        let spec = try PipelineDecoder.decode(file: root + "/pipelines/quickstart.yaml")
        let runner = PipelineRunner(spec: spec, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() },
                                    build: BuildStep(cacheDirectory: cache))
        let result = try runner.execute(.validate)
        let object = result.objects[0].path
        #expect(object.hasPrefix(cache + "/"), "the object comes from the build cache")
        return (try Data(contentsOf: URL(fileURLWithPath: object)), String(object.split(separator: "/").last!))
    }

    @Test func twoCheckoutsInDifferentFoldersBuildByteIdenticalObjectsUnderOneKey() throws {
        let tmp = NSTemporaryDirectory() + "bpfpipe-repro-\(getpid())-\(UUID().uuidString.prefix(6))"
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        // Different depths and names, so neither the length nor the text of the path can hide.
        let a = try buildCheckout(at: tmp + "/ci/checkout", cache: tmp + "/cache-a")
        let b = try buildCheckout(at: tmp + "/node/somewhere/else/bpfpipe-src", cache: tmp + "/cache-b")
        #expect(a.name == b.name, "the cache key (in the file name) is the same")
        #expect(a.bytes == b.bytes, "the objects are byte-identical")
        #expect(a.bytes.range(of: Data("/ci/checkout".utf8)) == nil, "no trace of the checkout's folder in the object")
        // clang copies each source line into BTF line info from the path it records: that path
        // must still lead to the source, or dump and verifier logs lose their source lines.
        #expect(a.bytes.range(of: Data("__u32 k = slot % SLOTS;".utf8)) != nil, "BTF line info holds the source lines")
    }
}
