import Foundation
import Logging
import Testing
@testable import BPFLoader
@testable import BPFPipeline
import BPFTestSupport

/// Runs pipelines in `.validate` mode, which needs no kernel: writes the text into `pipelines/`
/// (so `../examples/...` resolves), decodes it, and returns the runner's error, if any.
struct ValidateHarness {
    let cache: String
    let lines = CapturedLines()

    init(cache: String = NSTemporaryDirectory() + "bpfpipe-cache-\(getpid())") {
        self.cache = cache
    }

    /// Where the pipeline text is written; errors name this file.
    static func pipelineFile() -> String {
        "\(repositoryRoot)/pipelines/validate-\(getpid())-\(UUID().uuidString.prefix(6)).yaml"
    }

    func validate(_ text: String, file: String = ValidateHarness.pipelineFile()) throws -> RunResult {
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let spec = try PipelineDecoder.decode(file: file)
        let captured = lines
        let logger = Logger(label: "test") { _ in JSONLogHandler(sink: { captured.append($0) }) }
        return try PipelineRunner(spec: spec, logger: logger, build: BuildStep(cacheDirectory: cache)).execute(.validate)
    }

    /// Every JSON log line, parsed.
    func records() throws -> [[String: Any]] {
        try lines.lines.map { line in
            guard let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw FixtureFailure("not a JSON object: \(line)")
            }
            return obj
        }
    }
}

/// A pipeline whose names, values or files do not match what they refer to, and what `validate`
/// must say: the fragment and the `line:col` it points at. `{NOSYM}` and `{SMALL}` stand for
/// files the test makes (a plugin without the ABI symbol, a BPF source with a `__u8` global).
struct ReferenceCase: Sendable, CustomTestStringConvertible {
    var name: String
    var yaml: String
    var fragment: String
    var line: Int
    var column: Int
    var testDescription: String { name }
}

/// `validate` finds every wrong reference without the kernel and points at it.
@Suite struct ValidateTests {
    /// The lines before `programs:`'s entries in most cases (`programs:` is line 6).
    static let head = """
    version: 1
    name: validate-test
    objects:
      - name: counters
        build: { source: ../examples/counters/counters.bpf.c }
    """

    static let cases: [ReferenceCase] = [
        ReferenceCase(name: "unknown program", yaml: head + """

                programs:
                  count_pkts: {}
                  count_pkt: {}
            """, fragment: "object 'counters' has no program 'count_pkt'", line: 8, column: 7),
        ReferenceCase(name: "unknown map", yaml: head + """

                maps:
                  hit: { max-entries: 4 }
            """, fragment: "object 'counters' has no map 'hit'", line: 7, column: 7),
        ReferenceCase(name: "unknown global", yaml: head + """

                globals:
                  slots: 3
            """, fragment: "slots", line: 7, column: 14),
        ReferenceCase(name: "set-global values count", yaml: head + """

                programs:
                  count_pkts:
                    instances: 4
                    preprocess:
                      - stage: set-global
                        with: { variable: slot, values: [0, 1, 2] }
            """, fragment: "stage set-global: 'values' has 3 entries but program 'count_pkts' has 4 instances", line: 11, column: 45),
        ReferenceCase(name: "patch-imm values count", yaml: head + """

                programs:
                  tagged:
                    instances: 2
                    preprocess:
                      - stage: patch-imm
                        with:
                          values: [1, 2, 3]
            """, fragment: "stage patch-imm: 'values' has 3 entries but program 'tagged' has 2 instances", line: 12, column: 23),
        ReferenceCase(name: "set-global value too big for u8", yaml: """
            version: 1
            name: validate-test
            objects:
              - name: small
                build: { source: {SMALL} }
                programs:
                  small_prog:
                    instances: 2
                    preprocess:
                      - stage: set-global
                        with: { variable: small, values: [1, 300] }
            """, fragment: "300 does not fit in const volatile __u8", line: 11, column: 50),
        ReferenceCase(name: "set-global string for an int", yaml: head + """

                programs:
                  count_pkts:
                    instances: 2
                    preprocess:
                      - stage: set-global
                        with: { variable: slot, values: [0, "one"] }
            """, fragment: "stage set-global: global 'slot': cannot store \"one\"", line: 11, column: 49),
        ReferenceCase(name: "object global too big for u8", yaml: """
            version: 1
            name: validate-test
            objects:
              - name: small
                build: { source: {SMALL} }
                globals:
                  small: 256
            """, fragment: "256", line: 7, column: 14),
        ReferenceCase(name: "unknown built-in stage", yaml: head + """

                programs:
                  tagged:
                    preprocess:
                      - stage: patch-immediate
            """, fragment: "unknown built-in stage 'patch-immediate'", line: 9, column: 20),
        ReferenceCase(name: "plugin not found", yaml: head + """

                programs:
                  tagged:
                    preprocess:
                      - plugin: no-such-plugin-anywhere
            """, fragment: "plugin 'no-such-plugin-anywhere' not found; looked for", line: 9, column: 13),
        ReferenceCase(name: "plugin without the ABI symbol", yaml: head + """

                programs:
                  tagged:
                    preprocess:
                      - plugin: {NOSYM}
            """, fragment: "does not export bpfpipe_plugin_v1()", line: 9, column: 13),
        ReferenceCase(name: "prologue syntax error", yaml: head + """

                programs:
                  with_arg:
                    preprocess:
                      - stage: prologue
                        with:
                          instructions:
                            - "r2 = 5"
                            - "r2 +== 1"
            """, fragment: "stage prologue: instruction 1: 'r2 +== 1'", line: 13, column: 19),
        ReferenceCase(name: "skip index out of range", yaml: head + """

                programs:
                  tagged:
                    instances: 4
                    preprocess:
                      - stage: skip
                        with: { only: [0, 4] }
            """, fragment: "stage skip: instance 4 is out of range (program 'tagged' has 4)", line: 11, column: 31),
        ReferenceCase(name: "object file missing", yaml: """
            version: 1
            name: validate-test
            objects:
              - name: counters
                path: ../examples/counters/no-such-object.o
            """, fragment: "object 'counters': file \(repositoryRoot)/examples/counters/no-such-object.o does not exist", line: 4, column: 5),
        ReferenceCase(name: "build source missing", yaml: """
            version: 1
            name: validate-test
            objects:
              - name: counters
                build: { source: ../examples/counters/no-such-source.bpf.c }
            """, fragment: "object 'counters': source \(repositoryRoot)/examples/counters/no-such-source.bpf.c does not exist", line: 5, column: 5),
    ]

    /// A BPF source whose one program reads a `__u8` global, for values that do not fit.
    static func smallGlobalSource(in folder: TemporaryFolder) throws -> String {
        let path = "\(folder.path)/small.bpf.c"
        try """
        #include <linux/bpf.h>
        #include <bpf/bpf_helpers.h>

        char LICENSE[] SEC("license") = "GPL";

        const volatile __u8 small = 0;

        SEC("socket") int small_prog(struct __sk_buff *skb) { return small; }
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test(arguments: cases)
    func referenceErrorPointsAtItsLineAndColumn(_ c: ReferenceCase) throws {
        let folder = try TemporaryFolder("validate")
        defer { folder.remove() }
        var plugin: TestPlugin?
        var yaml = c.yaml
        if yaml.contains("{SMALL}") { yaml = yaml.replacing("{SMALL}", with: try Self.smallGlobalSource(in: folder)) }
        if yaml.contains("{NOSYM}") {
            plugin = try TestPlugin.faulty(defines: ["NO_ENTRY"])
            yaml = yaml.replacing("{NOSYM}", with: plugin!.path)
        }
        defer { plugin?.remove() }
        let file = ValidateHarness.pipelineFile()
        let error = try #require(throws: PipelineError.self) { _ = try ValidateHarness().validate(yaml, file: file) }
        #expect(error.description.contains(c.fragment), "\(error)")
        #expect(error.description.hasPrefix("\(file):\(c.line):\(c.column): "), "\(error)")
    }

    @Test func validateBuildsAndOpensButLoadsNothing() throws {
        let result = try ValidateHarness().validate(try String(contentsOfFile: "\(repositoryRoot)/pipelines/quickstart.yaml", encoding: .utf8))
        #expect(result.objects.count == 1)
        #expect(result.objects[0].maps.isEmpty)
        #expect(result.objects[0].programs.allSatisfy { !$0.isLoaded })
    }

    // MARK: the CLI

    @Test func cliValidateExitsTwoWithTheLineAndColumnOnStderr() throws {
        let file = ValidateHarness.pipelineFile()
        try (Self.head + """

            programs:
              count_pkts: {}
              count_pkt: {}
        """).write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let r = try runBPFPipe(["validate", file, "--cache-dir", NSTemporaryDirectory() + "bpfpipe-cache-\(getpid())"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("\(file):8:7: object 'counters' has no program 'count_pkt'"), "\(r.stderr)")
    }

    @Test func cliValidateAcceptsTheQuickstart() throws {
        let r = try runBPFPipe(["validate", "\(repositoryRoot)/pipelines/quickstart.yaml",
                                  "--cache-dir", NSTemporaryDirectory() + "bpfpipe-cache-\(getpid())"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("quickstart.yaml: ok"))
    }
}
