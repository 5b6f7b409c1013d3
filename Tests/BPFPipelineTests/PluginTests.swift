import Foundation
import Testing
@testable import BPFLoader
@testable import BPFPipeline
import BPFTestSupport

/// A fresh folder under the temporary directory; `remove()` (in a `defer`) deletes it with
/// everything in it.
struct TemporaryFolder {
    let path: String
    init(_ label: String) throws {
        path = NSTemporaryDirectory() + "bpfpipe-\(label)-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// A plugin built by `buildPlugin` into its own temporary folder. `remove()` deletes it; a plugin
/// already loaded stays mapped.
struct TestPlugin {
    /// The misbehaving test plugin (see the file's comment for its modes).
    static let faultySource = "\(repositoryRoot)/Tests/BPFPipelineTests/Plugins/faulty.c.fixture"

    let folder: TemporaryFolder
    /// The absolute path of `lib<name>.so`.
    let path: String

    init(_ source: String, name: String, defines: [String] = []) throws {
        folder = try TemporaryFolder("plugin")
        path = "\(folder.path)/lib\(name).so"
        do {
            try buildPlugin(source: source, output: path, defines: defines)
        } catch {
            folder.remove()
            throw error
        }
    }

    func remove() { folder.remove() }

    static func faulty(defines: [String] = []) throws -> TestPlugin {
        try TestPlugin(faultySource, name: "faulty", defines: defines)
    }
}

/// Plugins built outside the package, loaded by path, and every way a plugin can be wrong: each
/// refused with the plugin named, the program and instance where that applies, and no pin left.
@Suite(.enabled(if: KernelGate.enabled, "needs bpf() as root"), .kernel)
struct PluginTests {
    /// `tagged` with `instances` instances, its preprocess list being the one plugin stage.
    static func taggedPipeline(_ name: String, plugin: String, with: String, instances: Int = 4) -> String {
        """
        version: 1
        name: \(name)
        objects:
          - name: counters
            build: { source: ../examples/counters/counters.bpf.c }
            programs:
              tagged:
                instances: \(instances)
                preprocess:
                  - plugin: \(plugin)
                    with: \(with)
              count_pkts: { load: false }
              with_arg: { load: false }
        """
    }

    /// Runs a pipeline that must fail; returns the error and checks that nothing was pinned.
    func runExpectingFailure(_ h: PipelineHarness, _ text: String) throws -> any Error {
        let spec = try h.decode(text: text)
        do {
            _ = try h.runner(spec).execute(.run)
        } catch {
            #expect(h.pins.contents().isEmpty, "a failed run left pins: \(h.pins.contents())")
            return error
        }
        throw FixtureFailure("the run succeeded; expected it to fail")
    }

    @Test func outOfTreePluginByPathGivesEachInstanceItsShiftedNumber() throws {
        let plugin = try TestPlugin("\(repositoryRoot)/examples/plugin/maskimm.c", name: "maskimm"), lib = plugin.path
        defer { plugin.remove() }
        let h = try PipelineHarness()
        let spec = try h.decode(text: Self.taggedPipeline("maskimm-test", plugin: lib, with: "{ shift: 4 }"))
        _ = try h.runner(spec).execute(.run)
        let base = "\(h.pins.path)/maskimm-test/counters/progs/tagged"
        for n in 0..<4 { #expect(try h.run("\(base)/\(n)") == UInt32(n << 4)) }
    }

    @Test func missingPluginFileIsNamedWithItsPath() throws {
        let h = try PipelineHarness()
        let missing = NSTemporaryDirectory() + "bpfpipe-no-such-\(UUID().uuidString.prefix(8))/libgone.so"
        let error = try runExpectingFailure(h, Self.taggedPipeline("plugin-missing", plugin: missing, with: "{}"))
        let e = try #require(error as? PipelineError)
        #expect(e.description.contains("plugin file \(missing) does not exist"))
        #expect(e.mark?.line == 10)
    }

    @Test func textFileNamedLikeASharedObjectIsRefusedAsNotOne() throws {
        let folder = try TemporaryFolder("plugin")
        defer { folder.remove() }
        let fake = "\(folder.path)/libx.so"
        try "not an ELF file\n".write(toFile: fake, atomically: true, encoding: .utf8)
        let h = try PipelineHarness()
        let error = try runExpectingFailure(h, Self.taggedPipeline("plugin-text", plugin: fake, with: "{}"))
        let e = try #require(error as? PipelineError)
        #expect(e.description.contains("plugin \(fake): cannot load it as a shared object"))
        #expect(e.mark?.line == 10)
    }

    @Test func sharedObjectWithoutTheEntryPointIsRefused() throws {
        let plugin = try TestPlugin.faulty(defines: ["NO_ENTRY"]), lib = plugin.path
        defer { plugin.remove() }
        let h = try PipelineHarness()
        let error = try runExpectingFailure(h, Self.taggedPipeline("plugin-nosym", plugin: lib, with: "{}"))
        let e = try #require(error as? PipelineError)
        #expect(e.description.contains("plugin \(lib): does not export bpfpipe_plugin_v1()"))
    }

    @Test func pluginOfAnotherABIVersionIsRefusedBeforeAnyOfItRuns() throws {
        let plugin = try TestPlugin.faulty(defines: ["ABI_VERSION=99"]), lib = plugin.path
        defer { plugin.remove() }
        let h = try PipelineHarness()
        // init-fails would raise its own error if init ran; the version check must come first.
        let error = try runExpectingFailure(h, Self.taggedPipeline("plugin-abi", plugin: lib, with: "{ mode: init-fails }"))
        let e = try #require(error as? PipelineError)
        #expect(e.description.contains("plugin \(lib): ABI version 99; this bpfpipe speaks version 1"))
    }

    @Test func initFailureCarriesThePluginsOwnExplanation() throws {
        let plugin = try TestPlugin.faulty(), lib = plugin.path
        defer { plugin.remove() }
        let h = try PipelineHarness()
        let error = try runExpectingFailure(h, Self.taggedPipeline("plugin-init", plugin: lib, with: "{ mode: init-fails }"))
        let e = try #require(error as? PipelineError)
        #expect(e.description.contains("plugin \(lib): init returned 3: faulty refuses mode init-fails on purpose"))
        #expect(e.description.contains("program 'tagged'"))
        #expect(e.mark?.line == 10)
    }

    @Test func prepFailureForOneInstanceNamesItAndPinsNothing() throws {
        let plugin = try TestPlugin.faulty(), lib = plugin.path
        defer { plugin.remove() }
        let h = try PipelineHarness()
        let error = try runExpectingFailure(h, Self.taggedPipeline("plugin-prep", plugin: lib, with: "{ mode: prep-fails }"))
        let e = try #require(error as? LoaderError)
        #expect(e.step == .preprocess)
        #expect(e.location == "program 'tagged' instance 2")
        #expect(e.description.contains(lib))
        #expect(e.description.contains("program 'tagged' instance 2: preprocessing instance 2 failed: plugin faulty") && e.description.contains("prep returned -5: instance 2 is cursed"))
        let failure = try h.records().first { $0["level"] as? String == "error" }
        #expect(failure?["step"] as? String == "preprocess")
        // Nothing got as far as the kernel.
        #expect(try h.records().allSatisfy { $0["step"] as? String != "load" })
    }

    @Test(arguments: [
        ("split-ldimm", "instruction 0: 64-bit load is not followed by its second half"),
        ("jump-out", "instruction 1: jumps to 7, outside the program's 3 instructions"),
    ])
    func invalidInstructionsAreRefusedBeforeTheKernelNamingTheInstruction(mode: String, fragment: String) throws {
        let plugin = try TestPlugin.faulty(), lib = plugin.path
        defer { plugin.remove() }
        let h = try PipelineHarness()
        let error = try runExpectingFailure(h, Self.taggedPipeline("plugin-\(mode)", plugin: lib, with: "{ mode: \(mode) }"))
        let e = try #require(error as? LoaderError)
        #expect(e.step == .preprocess)
        #expect(e.location == "program 'tagged' instance 0")
        #expect(e.description.contains("plugin faulty (\(lib))"))
        #expect(e.description.contains(fragment))
        #expect(try h.records().allSatisfy { $0["step"] as? String != "load" })
    }

    @Test func moreInstructionsThanTheKernelTakesAreRefused() throws {
        let plugin = try TestPlugin.faulty(), lib = plugin.path
        defer { plugin.remove() }
        let h = try PipelineHarness()
        let error = try runExpectingFailure(h, Self.taggedPipeline("plugin-too-many", plugin: lib, with: "{ mode: too-many }", instances: 1))
        let e = try #require(error as? LoaderError)
        #expect(e.step == .preprocess)
        #expect(e.location == "program 'tagged' instance 0")
        #expect(e.description.contains(lib))
        #expect(e.description.contains("1000001 instructions"))
        #expect(e.description.contains("limit of 1000000"))
        #expect(try h.records().allSatisfy { $0["step"] as? String != "load" })
    }

    @Test func instancesThePluginReturnsNothingForAreSkippedAndTheOthersRun() throws {
        let plugin = try TestPlugin.faulty(), lib = plugin.path
        defer { plugin.remove() }
        let h = try PipelineHarness()
        _ = try h.runner(try h.decode(text: Self.taggedPipeline("plugin-skip", plugin: lib, with: "{ mode: skip-odd }"))).execute(.run)
        let base = "\(h.pins.path)/plugin-skip/counters/progs/tagged"
        // The plugin handed the code back unchanged, so the even instances return the marker.
        #expect(try h.run("\(base)/0") == 0x0badcafe)
        #expect(try h.run("\(base)/2") == 0x0badcafe)
        #expect(!FileManager.default.fileExists(atPath: "\(base)/1"))
        #expect(!FileManager.default.fileExists(atPath: "\(base)/3"))
        let skipped = try h.records().filter { $0["msg"] as? String == "instance skipped" }.compactMap { $0["instance"] as? Int }
        #expect(skipped.sorted() == [1, 3])
    }
}
