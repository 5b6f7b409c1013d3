import Foundation
import Testing
@testable import BPFLoader
@testable import BPFPipeline
import BPFTestSupport

/// Pipelines with `test:` lists: what the tests run on and check, and what a failing test does to
/// the run (nothing of it stays, the previous deployment keeps running).
enum TestStepPipelines {
    /// The quickstart's counters object (four instances of `count_pkts`, instance n counts into
    /// slot n of `hits` and returns n) with `tests` (written from column 0) as the `test:` block
    /// of `count_pkts`. `test:` is on line 14, so its first item's mapping starts at 15:13.
    static func counters(_ tests: String?, name: String = "smoke") -> String {
        let block = tests.map { "\n" + indent($0, by: 8) } ?? ""
        return """
        version: 1
        name: \(name)
        objects:
          - name: counters
            build:
              source: ../examples/counters/counters.bpf.c
              cflags: ["-DSLOTS=4"]
            programs:
              count_pkts:
                instances: 4
                preprocess:
                  - stage: set-global
                    with: { variable: slot, values: [0, 1, 2, 3] }\(block)
              tagged: { load: false }
              with_arg: { load: false }
        """
    }

    /// The testrun fixture (`packet_len` returns the length, `first_byte` the first byte) with
    /// `packetLen` and `firstByte` as their `test:` blocks; `test:` of `packet_len` is on line 8.
    static func fixture(packetLen: String, firstByte: String? = nil, noTestRun: String? = nil) -> String {
        """
        version: 1
        name: smoke-data
        objects:
          - name: fx
            build: { source: ../Tests/BPFPipelineTests/Pipelines/fixtures/testrun.bpf.c }
            programs:
              packet_len:
        \(indent(packetLen, by: 8))
              first_byte:
        \(firstByte.map { indent($0, by: 8) } ?? "        load: false")
              no_test_run:
        \(noTestRun.map { indent($0, by: 8) } ?? "        load: false")
        """
    }

    static func indent(_ text: String, by n: Int) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { String(repeating: " ", count: n) + $0 }.joined(separator: "\n")
    }
}

/// Against the real kernel: tests that pass deploy and show in the log and report; tests that
/// fail (return value, map contents, a kernel refusal) fail the run with the test named and
/// leave the previous deployment as it was.
@Suite(.enabled(if: KernelGate.enabled, "needs bpf() as root"), .kernel)
struct TestStepTests {
    @Test func passingTestsDeployAndTheirRunsShowInTheMapTheLogAndTheReport() throws {
        let h = try PipelineHarness()
        let spec = try h.decode(text: TestStepPipelines.counters("""
        test:
          - instance: 2
            data-size: 64
            expect-return: 2
            repeat: 10
            expect-maps: { hits: { "0x02000000": "0x0a00000000000000", "0x00000000": "0x0000000000000000" } }
        """))
        let result = try h.runner(spec).execute(.run)

        // The kernel ran instance 2 ten times: its slot says so, in the map now deployed.
        let base = "\(h.pins.path)/smoke/counters"
        let hits = try BPFFS.openPinned("\(base)/maps/hits")
        #expect(try BPFCommand.lookupElement(map: hits, key: .le(UInt32(2)), valueSize: 8).get() == .le(UInt64(10)))
        #expect(try BPFCommand.lookupElement(map: hits, key: .le(UInt32(0)), valueSize: 8).get() == .le(UInt64(0)))
        #expect(try h.run("\(base)/progs/count_pkts/2") == 2)

        let records = try h.records().filter { $0["step"] as? String == "test" && $0["msg"] as? String == "instance tested" }
        #expect(records.count == 1)
        #expect(records.first?["object"] as? String == "counters")
        #expect(records.first?["program"] as? String == "count_pkts")
        #expect(records.first?["instance"] as? Int == 2)
        #expect(records.first?["return"] as? Int == 2)
        #expect(records.first?["repeat"] as? Int == 10)
        #expect(records.first?["duration_ms"] is Double || records.first?["duration_ms"] is Int)

        let program = try #require(result.report.objects.first?.programs.first { $0.name == "count_pkts" })
        let tests = try #require(program.tests)
        #expect(tests.map(\.instance) == [2])
        #expect(tests.map(\.returnValue) == [2])
        #expect(tests.map(\.repeatCount) == [10])
        #expect(tests.first?.at == "\(spec.file):15:13")
    }

    @Test func aTestWithoutInstanceRunsOnEveryInstanceAndLaterTestsSeeTheMapsEarlierOnesLeft() throws {
        let h = try PipelineHarness()
        // Test 1 runs once on every instance, so slot 1 holds 3 (test 0) + 1 when test 2 reads it.
        let spec = try h.decode(text: TestStepPipelines.counters("""
        test:
          - { instance: 1, data-size: 64, repeat: 3, expect-return: 1 }
          - { data-size: 64, expect-maps: { hits: { "0x03000000": "0x0100000000000000" } } }
          - { instance: 1, data-size: 64, expect-return: 1, expect-maps: { hits: { "0x01000000": "0x0500000000000000" } } }
        """))
        let result = try h.runner(spec).execute(.run)
        let tests = try #require(result.report.objects.first?.programs.first { $0.name == "count_pkts" }?.tests)
        #expect(tests.map(\.test) == [0, 1, 1, 1, 1, 2])
        #expect(tests.map(\.instance) == [1, 0, 1, 2, 3, 1])
        #expect(tests.map(\.returnValue) == [1, 0, 1, 2, 3, 1])
    }

    @Test func aWrongReturnValueFailsTheRunAndKeepsThePreviousDeployment() throws {
        let h = try PipelineHarness()
        _ = try h.runner(try h.decode(text: TestStepPipelines.counters(nil))).execute(.run)
        let deployment = "\(h.pins.path)/smoke"
        let before = try PinTree.snapshot(deployment)
        #expect(before["counters/progs/count_pkts/2"]?.hasPrefix("prog ") == true)

        let spec = try h.decode(text: TestStepPipelines.counters("""
        test:
          - instance: 2
            data-size: 64
            expect-return: 3
            repeat: 10
        """))
        let error = try #require(throws: LoaderError.self) { _ = try h.runner(spec).execute(.run) }
        #expect("\(error)" == "\(spec.file):15:13: test: object 'counters', program 'count_pkts', instance 2, test 0: returned 2, expected 3 (run 10 times)")
        #expect(error.step == .test)
        // Same pins, same program and map ids, no staging folder left behind.
        #expect(try PinTree.snapshot(deployment) == before)
        let failure = try h.records().last { $0["msg"] as? String == "test failed" }
        #expect(failure?["program"] as? String == "count_pkts" && failure?["instance"] as? Int == 2 && failure?["test"] as? Int == 0)
        #expect(try h.records().contains { $0["msg"] as? String == "pin failed" } == false)
    }

    @Test func aMapThatDoesNotHoldWhatTheTestExpectsFailsTheFirstDeployWithNothingPinned() throws {
        let h = try PipelineHarness()
        let spec = try h.decode(text: TestStepPipelines.counters("""
        test:
          - instance: 2
            data-size: 64
            repeat: 10
            expect-maps:
              hits: { "0x02000000": "0x0b00000000000000" }
        """))
        let error = try #require(throws: LoaderError.self) { _ = try h.runner(spec).execute(.run) }
        #expect("\(error)" == "\(spec.file):19:37: test: object 'counters', program 'count_pkts', instance 2, test 0: map 'hits' key 0x02000000 holds 0x0a00000000000000, expected 0x0b00000000000000")
        #expect(h.pins.contents().filter { !$0.hasSuffix("smoke") } == [])
    }

    @Test func aMissingEntryAndAnEntryExpectedAbsentAreCheckedToo() throws {
        let h = try PipelineHarness()
        let absent = try h.decode(text: TestStepPipelines.fixture(packetLen: """
        test:
          - { data-size: 64, expect-maps: { lengths: { "0x40000000": "0x0100000000000000", "0x41000000": ~ } } }
          - { data-size: 64, expect-maps: { lengths: { "0x40000000": ~ } } }
        """))
        let e1 = try #require(throws: LoaderError.self) { _ = try h.runner(absent).execute(.run) }
        #expect("\(e1)" == "\(absent.file):10:56: test: object 'fx', program 'packet_len', instance 0, test 1: map 'lengths' key 0x40000000 holds 0x0200000000000000, expected no entry")

        let missing = try h.decode(text: TestStepPipelines.fixture(packetLen: """
        test:
          - { data-size: 64, expect-maps: { lengths: { "0x41000000": "0x0100000000000000" } } }
        """))
        let e2 = try #require(throws: LoaderError.self) { _ = try h.runner(missing).execute(.run) }
        #expect("\(e2)" == "\(missing.file):9:70: test: object 'fx', program 'packet_len', instance 0, test 0: map 'lengths' has no entry for key 0x41000000, expected 0x0100000000000000")
    }

    @Test func dataDataFileAndDataSizeAreWhatTheProgramRunsOn() throws {
        let h = try PipelineHarness()
        let name = "testdata-\(getpid())-\(UUID().uuidString.prefix(6)).bin"
        let file = "\(repositoryRoot)/pipelines/\(name)"
        try Data([0xab] + [UInt8](repeating: 7, count: 99)).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let spec = try h.decode(text: TestStepPipelines.fixture(packetLen: """
        test:
          - { data-size: 64, expect-return: 64 }
          - { data: "00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff 0001 0203", expect-return: 20 }
          - { data-file: \(name), expect-return: 100 }
          - data-size: 64
            expect-maps:
              lengths: { "0x40000000": "0x0200000000000000", "0x14000000": "0x0100000000000000",
                         "0x64000000": "0x0100000000000000", "0x0e000000": ~ }
        """, firstByte: """
        test:
          - { data-file: \(name), expect-return: 0xab }
          - { data: "0x7f000000000000000000000000000000", expect-return: 127 }
        """))
        let result = try h.runner(spec).execute(.run)
        let programs = try #require(result.report.objects.first?.programs)
        #expect(programs.first { $0.name == "packet_len" }?.tests?.map(\.returnValue) == [64, 20, 100, 64])
        #expect(programs.first { $0.name == "first_byte" }?.tests?.map(\.returnValue) == [0xab, 127])
    }

    @Test func aProgramTypeTheKernelCannotTestRunFailsTheRunWithTheReason() throws {
        let h = try PipelineHarness()
        let spec = try h.decode(text: TestStepPipelines.fixture(packetLen: "load: false", noTestRun: """
        test:
          - { data-size: 0, expect-return: 0 }
        """))
        let error = try #require(throws: LoaderError.self) { _ = try h.runner(spec).execute(.run) }
        #expect("\(error)" == """
            \(spec.file):13:13: test: object 'fx', program 'no_test_run', instance 0, test 0: the kernel refused to test-run it (0 bytes of data) (ENOTSUPP (operation not supported))
              hint: kprobe programs cannot be test-run by this kernel (no BPF_PROG_TEST_RUN support for the type); remove the test
            """)
        #expect(h.pins.contents().filter { $0.contains("fx") } == [])
    }

    @Test func dataTooShortForAPacketIsRefusedByTheKernelWithAHint() throws {
        let h = try PipelineHarness()
        let spec = try h.decode(text: TestStepPipelines.counters("""
        test:
          - { instance: 0, data-size: 4, expect-return: 0 }
        """))
        let error = try #require(throws: LoaderError.self) { _ = try h.runner(spec).execute(.run) }
        #expect(error.errno == .invalidArgument)
        #expect("\(error)".hasPrefix("\(spec.file):15:13: test: object 'counters', program 'count_pkts', instance 0, test 0: the kernel refused to test-run it (4 bytes of data)"), "\(error)")
        #expect(error.hint == "packet programs need at least an Ethernet header (14 bytes) of data; give 'data', 'data-file' or 'data-size: 64'")
    }

    @Test func aSkippedInstanceIsLeftOutOfEveryInstanceButCannotBeNamedAndAllSkippedFails() throws {
        let h = try PipelineHarness()
        func tagged(_ test: String) -> String {
            """
            version: 1
            name: smoke-skip
            objects:
              - name: counters
                build: { source: ../examples/counters/counters.bpf.c }
                programs:
                  count_pkts: { load: false }
                  with_arg: { load: false }
                  tagged:
                    instances: 3
                    preprocess:
                      - stage: patch-imm
                        with: { values: [7, 7, 7] }
                      - stage: skip
                        with: { except: [1] }
                    test:
                      - \(test)
            """
        }
        let all = try h.runner(try h.decode(text: tagged("{ data-size: 64, expect-return: 7 }"))).execute(.run)
        #expect(all.report.objects.first?.programs.first?.tests?.map(\.instance) == [0, 2])

        let named = try h.decode(text: tagged("{ instance: 1, data-size: 64, expect-return: 7 }"))
        let error = try #require(throws: LoaderError.self) { _ = try h.runner(named).execute(.run) }
        #expect("\(error)" == "\(named.file):17:25: test: object 'counters', program 'tagged', instance 1, test 0: instance 1 was skipped by its preprocessor, so it cannot be tested")

        // Every instance skipped: a test that would run on none is a failure, not a pass.
        let none = try h.decode(text: tagged("{ data-size: 64, expect-return: 7 }").replacingOccurrences(of: "except: [1]", with: "except: [0, 1, 2]"))
        let noneError = try #require(throws: LoaderError.self) { _ = try h.runner(none).execute(.run) }
        #expect("\(noneError)" == "\(none.file):17:13: test: object 'counters', program 'tagged', test 0: every instance was skipped by its preprocessor, so the test would run on none")
    }

    // MARK: the CLI

    @Test func cliRunExitsOneWithTheFailedTestOnStderrAndPinsNothing() throws {
        let pins = try PinDirectory()
        let file = try PipelineFile("""
        version: 1
        name: smoke-cli
        pin-root: \(pins.path)
        objects:
          - name: counters
            build: { source: \(countersSource), cflags: ["-DSLOTS=4"] }
            programs:
              count_pkts:
                instances: 4
                preprocess:
                  - stage: set-global
                    with: { variable: slot, values: [0, 1, 2, 3] }
                test:
                  - { instance: 2, data-size: 64, expect-return: 3 }
        """)
        let r = try runBPFPipe(["run", file.path, "--cache-dir", file.cache])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("error: \(file.path):14:13: test: object 'counters', program 'count_pkts', instance 2, test 0: returned 2, expected 3\n"), "\(r.stderr)")
        #expect(pins.contents().filter { $0.contains("counters") } == [])
    }
}

/// Test lists that cannot be used as written, refused by `validate` (no kernel) at their place.
@Suite struct TestStepSpecTests {
    static func counters(_ tests: String) -> String { TestStepPipelines.counters(tests, name: "validate-test") }

    static let cases: [ReferenceCase] = [
        ReferenceCase(name: "test is not a list", yaml: counters("test: { data-size: 64, expect-return: 0 }"),
                      fragment: "'test': expected a list, found a mapping", line: 14, column: 15),
        ReferenceCase(name: "misspelt key", yaml: counters("test:\n  - { data-size: 64, expect_return: 0 }"),
                      fragment: "unknown key 'expect_return'; did you mean 'expect-return'?", line: 15, column: 30),
        ReferenceCase(name: "instance out of range", yaml: counters("test:\n  - { instance: 4, data-size: 64, expect-return: 0 }"),
                      fragment: "'instance' 4 is out of range: program 'count_pkts' has 4 instance(s) (0-3)", line: 15, column: 25),
        ReferenceCase(name: "no input", yaml: counters("test:\n  - { instance: 1, expect-return: 1 }"),
                      fragment: "test 0 of program 'count_pkts' needs its input: 'data', 'data-file' or 'data-size'", line: 15, column: 13),
        ReferenceCase(name: "two inputs", yaml: counters("test:\n  - { data: \"00\", data-size: 64, expect-return: 0 }"),
                      fragment: "test 0 of program 'count_pkts' has 'data' and 'data-size'; give exactly one input", line: 15, column: 27),
        ReferenceCase(name: "nothing to check", yaml: counters("test:\n  - { data-size: 64 }"),
                      fragment: "test 0 of program 'count_pkts' checks nothing: give 'expect-return', 'expect-maps' or both", line: 15, column: 13),
        ReferenceCase(name: "data not hex", yaml: counters("test:\n  - { data: \"45 00 0g\", expect-return: 0 }"),
                      fragment: "'data': 'g' at character 8 is not a hex digit", line: 15, column: 21),
        ReferenceCase(name: "data odd digits", yaml: counters("test:\n  - { data: \"45 0\", expect-return: 0 }"),
                      fragment: "'data' has an odd number of hex digits", line: 15, column: 21),
        ReferenceCase(name: "data-size too big", yaml: counters("test:\n  - { data-size: 2000000, expect-return: 0 }"),
                      fragment: "'data-size' must be between 0 and 1048576, found 2000000", line: 15, column: 26),
        ReferenceCase(name: "repeat zero", yaml: counters("test:\n  - { data-size: 64, repeat: 0, expect-return: 0 }"),
                      fragment: "'repeat' must be between 1 and 1000000, found 0", line: 15, column: 38),
        ReferenceCase(name: "expect-return beyond 32 bits", yaml: counters("test:\n  - { data-size: 64, expect-return: 0x100000000 }"),
                      fragment: "'expect-return' 4294967296 does not fit in 32 bits", line: 15, column: 45),
        ReferenceCase(name: "map key without 0x", yaml: counters("test:\n  - { data-size: 64, expect-maps: { hits: { \"02000000\": \"0x0a00000000000000\" } } }"),
                      fragment: "key '02000000' of map 'hits' must be hex bytes starting with 0x", line: 15, column: 53),
        ReferenceCase(name: "unknown map", yaml: counters("test:\n  - { data-size: 64, expect-maps: { hit: { \"0x02000000\": \"0x0a00000000000000\" } } }"),
                      fragment: "object 'counters' has no map 'hit'", line: 15, column: 45),
        ReferenceCase(name: "key of the wrong size", yaml: counters("test:\n  - { data-size: 64, expect-maps: { hits: { \"0x0200\": \"0x0a00000000000000\" } } }"),
                      fragment: "key 0x0200 of map 'hits' has 2 byte(s); the map's keys have 4", line: 15, column: 53),
        ReferenceCase(name: "value of the wrong size", yaml: counters("test:\n  - { data-size: 64, expect-maps: { hits: { \"0x02000000\": \"0x0a000000\" } } }"),
                      fragment: "value 0x0a000000 of map 'hits' has 4 byte(s); the map's values have 8", line: 15, column: 67),
        ReferenceCase(name: "data-file missing", yaml: counters("test:\n  - { data-file: no-such-packet.bin, expect-return: 0 }"),
                      fragment: "'data-file' \(repositoryRoot)/pipelines/no-such-packet.bin does not exist", line: 15, column: 26),
        ReferenceCase(name: "data-file not a regular file", yaml: counters("test:\n  - { data-file: /dev/zero, expect-return: 0 }"),
                      fragment: "'data-file' /dev/zero is not a regular file", line: 15, column: 26),
        ReferenceCase(name: "per-CPU map", yaml: TestStepPipelines.fixture(packetLen: """
            test:
              - { data-size: 64, expect-maps: { per_cpu: { "0x00000000": "0x0100000000000000" } } }
            """).replacingOccurrences(of: "smoke-data", with: "validate-test"),
                      fragment: "map 'per_cpu' is a percpu_array map; 'expect-maps' reads maps with one value per key", line: 9, column: 45),
        ReferenceCase(name: "tests on a program that does not load", yaml: TestStepPipelines.fixture(packetLen: """
            load: false
            test:
              - { data-size: 64, expect-return: 0 }
            """).replacingOccurrences(of: "smoke-data", with: "validate-test"),
                      fragment: "program 'packet_len' has tests but 'load: false'; nothing would run them", line: 10, column: 13),
    ]

    @Test(arguments: cases)
    func badTestPointsAtItsLineAndColumn(_ c: ReferenceCase) throws {
        let file = ValidateHarness.pipelineFile()
        let error = try #require(throws: PipelineError.self) { _ = try ValidateHarness().validate(c.yaml, file: file) }
        #expect(error.description.contains(c.fragment), "\(error)")
        #expect(error.description.hasPrefix("\(file):\(c.line):\(c.column): "), "\(error)")
    }

    @Test func validateAcceptsAWellFormedTestList() throws {
        let result = try ValidateHarness().validate(Self.counters("""
        test:
          - { instance: 2, data: "0x00", expect-return: -1, repeat: 1000000 }
          - { data-size: 0, expect-maps: { hits: { "0x02000000": "0x0a00000000000000", "0x09000000": ~ } } }
        """))
        #expect(result.objects.count == 1)
    }
}
