import Foundation
import Testing
@testable import BPFLoader
@testable import BPFPipeline
import BPFTestSupport

/// Issue 9, "overrides real tools need": `value-size` and `attach-to`, on objects compiled here.
enum OverrideFixture {
    /// A stack trace map the object leaves at value size 0 (real tools size it at run time), and
    /// tp_btf programs whose sections name no target or one this kernel does not have.
    static let source = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>

    char LICENSE[] SEC("license") = "GPL";

    struct {
        __uint(type, BPF_MAP_TYPE_STACK_TRACE);
        __uint(key_size, sizeof(__u32));
        __uint(max_entries, 64);
    } stacks SEC(".maps");

    SEC("tracepoint/sched/sched_switch") int on_switch(void *ctx) {
        return bpf_get_stackid(ctx, &stacks, 0) < 0;
    }

    SEC("tp_btf") int bare(unsigned long long *ctx) { return 0; }

    SEC("tp_btf/no_such_tracepoint_here") int wrong(unsigned long long *ctx) { return 0; }

    SEC("socket") int sock(struct __sk_buff *skb) { return 0; }
    """

    static func write(in folder: TemporaryFolder) throws -> String {
        let path = "\(folder.path)/overrides.bpf.c"
        try source.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func pipeline(_ source: String, body: String) -> String {
        """
        version: 1
        name: overrides
        objects:
          - name: o
            build: { source: \(source) }
        \(body)
        """
    }

    /// Every program off but the ones `body` turns on.
    static let allOff = ["on_switch", "bare", "wrong", "sock"]
}

@Suite(.enabled(if: KernelGate.enabled, "needs bpf() as root"), .kernel)
struct OverrideTests {
    static func programs(_ on: [String: String]) -> String {
        "    programs:\n" + OverrideFixture.allOff.map { name in "      \(name): \(on[name] ?? "{ load: false }")" }.joined(separator: "\n")
    }

    @Test func stackTraceMapWithValueSizeZeroLoadsOnceValueSizeIsGiven() throws {
        let folder = try TemporaryFolder("overrides")
        defer { folder.remove() }
        let source = try OverrideFixture.write(in: folder)
        let h = try PipelineHarness()
        // Without value-size the kernel refuses the map, as it refuses libbpf without
        // bpf_map__set_value_size.
        let plain = try h.decode(text: OverrideFixture.pipeline(source, body: Self.programs(["on_switch": "{}"])))
        let refused = #expect(throws: LoaderError.self) { _ = try h.runner(plain).execute(.run) }
        #expect(refused?.message == "kernel refused to create stack_trace map (key 4 B, value 0 B, 64 entries, flags 0x0)")

        let spec = try h.decode(text: OverrideFixture.pipeline(source, body: """
            maps:
              stacks: { value-size: 1016 }
        \(Self.programs(["on_switch": "{}"]))
        """))
        let result = try h.runner(spec).execute(.run)
        let map = try #require(result.objects[0].map(named: "stacks"))
        let info = try BPFCommand.mapInfo(map.fd).get()
        #expect(info.value_size == 1016)
        #expect(FileManager.default.fileExists(atPath: "\(h.pins.path)/overrides/o/progs/on_switch"))
    }

    @Test func aKeptMapWhoseValueSizeChangedIsRefusedLikeMaxEntries() throws {
        let folder = try TemporaryFolder("overrides")
        defer { folder.remove() }
        let source = try OverrideFixture.write(in: folder)
        let h = try PipelineHarness()
        func spec(_ size: Int) throws -> PipelineSpec {
            try h.decode(text: OverrideFixture.pipeline(source, body: """
                maps:
                  stacks: { value-size: \(size), keep: true }
            \(Self.programs(["on_switch": "{}"]))
            """))
        }
        _ = try h.runner(try spec(1016)).execute(.run)
        let error = #expect(throws: LoaderError.self) { _ = try h.runner(try spec(512)).execute(.run) }
        #expect(error?.message.hasSuffix("is incompatible:\n    value size: pinned 1016, object wants 512") == true, "\(String(describing: error))")
    }

    @Test func attachToRetargetsTpBtfProgramsInTheKernel() throws {
        let expected = try #require(try KernelBTF.find("btf_trace_sched_switch", kind: .typedef), "kernel BTF has no btf_trace_sched_switch").id
        let folder = try TemporaryFolder("overrides")
        defer { folder.remove() }
        let h = try PipelineHarness()
        // Every map of the object is made, the stack map included: it needs its size.
        let spec = try h.decode(text: OverrideFixture.pipeline(try OverrideFixture.write(in: folder), body: """
            maps:
              stacks: { value-size: 1016 }
        \(Self.programs(["bare": "{ attach-to: sched_switch }", "wrong": "{ attach-to: sched_switch }"]))
        """))
        _ = try h.runner(spec).execute(.run)
        for name in ["bare", "wrong"] {
            let fd = try BPFCommand.get(pinned: "\(h.pins.path)/overrides/o/progs/\(name)").get()
            let info = try BPFCommand.programInfo(fd).get()
            #expect(info.attach_btf_id == expected, "\(name)")
            #expect(info.type == 26, "BPF_PROG_TYPE_TRACING")
        }
    }

    /// A retargeted program attaches by itself (bpftool's autoattach), though its section
    /// names no target: the link is the kernel's, on the program the target was set for.
    @Test func aRetargetedProgramWithABareSectionIsAutoAttached() throws {
        let folder = try TemporaryFolder("overrides")
        defer { folder.remove() }
        let build = try BuildStep(cacheDirectory: PipelineHarness().cache).build(source: try OverrideFixture.write(in: folder), cflags: [], include: [])
        var options = LoadOptions()
        options.pinMapsByNameDirectory = nil
        let obj = try BPFObject.open(path: build.object, options: options)
        try obj.updateMapDefinition("stacks") { $0.valueSize = 1016 }
        for p in obj.programs { p.autoload = p.name == "bare" }
        let bare = try #require(obj.program(named: "bare"))
        #expect(LinkTarget.fromSection(bare.section) == nil)
        try bare.setAttachTarget("sched_switch")
        try obj.load()
        let targets = obj.autoAttachTargets()
        #expect(targets.map(\.program.name) == ["bare"])
        #expect(targets.first?.target == .tracing)
        let link = try bare.attach(.tracing)
        let info = try link.info()
        #expect(info.programID == (try ProgramKernelInfo(fd: try bare.fd()).id))
    }

    @Test func valueSizeOnAGlobalDataMapIsRefusedAtItsLine() throws {
        let folder = try TemporaryFolder("overrides")
        defer { folder.remove() }
        let text = """
        version: 1
        name: overrides
        objects:
          - name: o
            build: { source: \(try StageFixture.write(in: folder)) }
            maps:
              stages.data: { value-size: 16 }
        """
        let file = ValidateHarness.pipelineFile()
        let error = #expect(throws: PipelineError.self) { _ = try ValidateHarness().validate(text, file: file) }
        #expect(error?.description == """
            \(file):7:34: map 'stages.data' holds a global-data section, whose value size is the section's
              hint: set its variables under 'globals:' instead
            """)
    }

    @Test func attachToAnUnknownTracepointIsAnErrorAtItsLine() throws {
        let folder = try TemporaryFolder("overrides")
        defer { folder.remove() }
        let text = OverrideFixture.pipeline(try OverrideFixture.write(in: folder), body: Self.programs(["bare": "{ attach-to: no_such_tracepoint_xyz }"]))
        let file = ValidateHarness.pipelineFile()
        let error = #expect(throws: PipelineError.self) { _ = try ValidateHarness().validate(text, file: file) }
        #expect(error?.description == """
            \(file):8:26: program 'bare': attach-to target 'no_such_tracepoint_xyz' not found: kernel BTF has no TYPEDEF 'btf_trace_no_such_tracepoint_xyz'
              hint: name a tracepoint that exists in this kernel (see /sys/kernel/btf/vmlinux)
            """)
    }

    @Test func attachToOnASocketFilterIsRefused() throws {
        let folder = try TemporaryFolder("overrides")
        defer { folder.remove() }
        let text = OverrideFixture.pipeline(try OverrideFixture.write(in: folder), body: Self.programs(["sock": "{ attach-to: sched_switch }"]))
        let file = ValidateHarness.pipelineFile()
        let error = #expect(throws: PipelineError.self) { _ = try ValidateHarness().validate(text, file: file) }
        #expect(error?.description == "\(file):10:26: program 'sock': an attach target applies to fentry, fexit, fmod_ret, tp_btf, lsm and iter programs, not to socket_filter (section 'socket')")
    }
}

/// libbpf's words where a pipeline file has its own get pointed at the pipeline's key.
@Suite struct LibbpfWordHintTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var yaml: String
        var line: Int
        var column: Int
        var libbpf: String
        var ours: String
        var testDescription: String { libbpf }
    }

    static let head = """
    version: 1
    name: hints
    objects:
      - name: o
        path: x.o

    """

    static let cases: [Case] = [
        Case(yaml: head + "    programs:\n      prog: { autoload: false }\n", line: 7, column: 15, libbpf: "autoload", ours: "load"),
        Case(yaml: head + "    maps:\n      hits: { max_entries: 16 }\n", line: 7, column: 15, libbpf: "max_entries", ours: "max-entries"),
        Case(yaml: head + "    maps:\n      stacks:\n        value_size: 1016\n", line: 8, column: 9, libbpf: "value_size", ours: "value-size"),
    ]

    @Test(arguments: cases) func libbpfKeyGetsThePipelinesWord(_ c: Case) throws {
        let error = #expect(throws: PipelineError.self) { _ = try PipelineDecoder.decode(text: c.yaml, file: "hints.yaml") }
        #expect(error?.description == """
            hints.yaml:\(c.line):\(c.column): unknown key '\(c.libbpf)'; did you mean '\(c.ours)'?
              hint: '\(c.libbpf)' is libbpf's word; a pipeline file writes '\(c.ours)'
            """)
    }
}
