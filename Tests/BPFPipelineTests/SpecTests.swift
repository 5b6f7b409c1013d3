import Foundation
import Testing
@testable import BPFPipeline

/// A pipeline file under Pipelines/broken and what the decoder must say about it.
struct BrokenCase: Sendable, CustomTestStringConvertible {
    var file: String
    var fragment: String
    /// nil for errors about the file as a whole.
    var line: Int?
    var column: Int?
    var hint: String? = nil
    var testDescription: String { file }
}

@Suite struct SpecTests {
    static let brokenFolder: String = {
        let here = "\(#filePath)"
        return String(here[..<here.lastIndex(of: "/")!]) + "/Pipelines/broken/"
    }()

    static let brokenCases: [BrokenCase] = [
        BrokenCase(file: "version-2.yaml", fragment: "unsupported version 2", line: 1, column: 10,
                   hint: "reads version 1"),
        BrokenCase(file: "version-missing.yaml", fragment: "missing required key 'version' in the pipeline",
                   line: 1, column: 1, hint: "version: 1"),
        BrokenCase(file: "version-quoted.yaml", fragment: "'version': expected an integer, found a string ('1')",
                   line: 1, column: 10, hint: "remove the quotes"),
        BrokenCase(file: "name-invalid.yaml", fragment: "invalid name 'Lab Counters'", line: 2, column: 7,
                   hint: "a-z, 0-9"),
        BrokenCase(file: "name-too-long.yaml", fragment: "invalid name 'aaaaaaaa", line: 2, column: 7),
        BrokenCase(file: "top-key-typo.yaml", fragment: "unknown key 'pin_root'; did you mean 'pin-root'?",
                   line: 6, column: 1),
        BrokenCase(file: "top-level-list.yaml", fragment: "the pipeline: expected a mapping, found a list",
                   line: 1, column: 1),
        BrokenCase(file: "pin-root-relative.yaml", fragment: "'pin-root' must be an absolute path, found 'bpf/lab'",
                   line: 3, column: 11),
        BrokenCase(file: "objects-empty.yaml", fragment: "'objects' is empty", line: 3, column: 10),
        BrokenCase(file: "objects-missing.yaml", fragment: "missing required key 'objects' in the pipeline",
                   line: 1, column: 1),
        BrokenCase(file: "object-name-missing.yaml", fragment: "missing required key 'name' in an object",
                   line: 4, column: 5),
        BrokenCase(file: "object-duplicate-name.yaml", fragment: "duplicate object name 'counters' (first at 4:11)",
                   line: 6, column: 11),
        BrokenCase(file: "object-path-and-build.yaml", fragment: "object 'counters' has both 'path' and 'build'",
                   line: 6, column: 5),
        BrokenCase(file: "object-no-source.yaml", fragment: "object 'counters' needs 'path' or 'build'",
                   line: 4, column: 5),
        BrokenCase(file: "build-missing-source.yaml",
                   fragment: "missing required key 'source' in 'build' of object 'counters'", line: 6, column: 7),
        BrokenCase(file: "build-cflags-string.yaml", fragment: "'cflags': expected a list, found a string ('-O2')",
                   line: 7, column: 15),
        BrokenCase(file: "max-entries-zero.yaml",
                   fragment: "'max-entries' must be between 1 and 4294967295, found 0", line: 7, column: 28),
        BrokenCase(file: "max-entries-too-big.yaml",
                   fragment: "'max-entries' must be between 1 and 4294967295, found 4294967296", line: 8, column: 22),
        BrokenCase(file: "max-entries-underscore.yaml",
                   fragment: "unknown key 'max_entries'; did you mean 'max-entries'?", line: 7, column: 15),
        BrokenCase(file: "map-pin-bad.yaml", fragment: "'pin' must be 'object' or 'shared', found 'global'",
                   line: 7, column: 22),
        BrokenCase(file: "global-mapping.yaml",
                   fragment: "'port': expected an integer, boolean, string or list, found a mapping", line: 7, column: 13),
        BrokenCase(file: "global-float.yaml",
                   fragment: "'ratio': expected an integer, boolean, string or list, found a floating-point number (0.5)",
                   line: 7, column: 14),
        BrokenCase(file: "instances-typo.yaml", fragment: "unknown key 'instnaces'; did you mean 'instances'?",
                   line: 8, column: 9),
        BrokenCase(file: "instances-zero.yaml", fragment: "'instances' must be between 1 and 4096, found 0",
                   line: 7, column: 32),
        BrokenCase(file: "instances-too-many.yaml", fragment: "'instances' must be between 1 and 4096, found 100000",
                   line: 8, column: 20),
        BrokenCase(file: "instances-string.yaml", fragment: "'instances': expected an integer, found a string ('four')",
                   line: 8, column: 20),
        BrokenCase(file: "instances-float.yaml",
                   fragment: "'instances': expected an integer, found a floating-point number (2.5)", line: 8, column: 20),
        BrokenCase(file: "instances-overflow.yaml",
                   fragment: "'instances': integer 99999999999999999999 does not fit in 64 bits", line: 8, column: 20),
        BrokenCase(file: "load-yes.yaml", fragment: "'load': expected a boolean, found a string ('yes')",
                   line: 8, column: 15, hint: "write true or false"),
        BrokenCase(file: "duplicate-key.yaml", fragment: "duplicate key 'instances' (first at 8:9)", line: 10, column: 9),
        BrokenCase(file: "stage-unknown.yaml",
                   fragment: "unknown built-in stage 'set-globl'; did you mean 'set-global'?", line: 9, column: 20,
                   hint: "plugin: set-globl"),
        BrokenCase(file: "stage-and-plugin.yaml", fragment: "a stage has both 'stage' and 'plugin'", line: 10, column: 13),
        BrokenCase(file: "stage-neither.yaml", fragment: "a stage needs 'stage' or 'plugin'", line: 9, column: 13),
        BrokenCase(file: "preprocess-mapping.yaml", fragment: "'preprocess': expected a list, found a mapping",
                   line: 9, column: 11),
        BrokenCase(file: "merge-key.yaml", fragment: "merge keys ('<<') are not supported", line: 9, column: 9),
        BrokenCase(file: "syntax-bad-indent.yaml", fragment: "invalid YAML: mapping values are not allowed in this context",
                   line: 5, column: 10),
        BrokenCase(file: "syntax-unclosed-flow.yaml", fragment: "invalid YAML: did not find expected ',' or ']'",
                   line: 4, column: 8),
        BrokenCase(file: "tab-indent.yaml", fragment: "invalid YAML: found character that cannot start any token",
                   line: 4, column: 1, hint: "spaces, not tabs"),
        BrokenCase(file: "invalid-utf8.yaml", fragment: "invalid YAML input: invalid leading UTF-8 octet (0xFF)",
                   line: 2, column: 10),
        BrokenCase(file: "two-documents.yaml", fragment: "more than one YAML document in the file", line: 6, column: 1),
        BrokenCase(file: "empty.yaml", fragment: "empty pipeline file", line: nil, column: nil),
        BrokenCase(file: "undefined-alias.yaml", fragment: "undefined alias '*port'", line: 7, column: 13),
        BrokenCase(file: "alias-cycle.yaml", fragment: "alias '*p' refers to a node that contains it (a cycle)",
                   line: 7, column: 21),
        BrokenCase(file: "billion-laughs.yaml", fragment: "alias expansion too large (billion laughs?)",
                   line: 16, column: 22),
    ]

    @Test("a broken pipeline is refused at the offending node, saying what is wrong", arguments: brokenCases)
    func brokenPipelineIsRefused(_ c: BrokenCase) throws {
        let path = Self.brokenFolder + c.file
        let error = try #require(throws: PipelineError.self) { try PipelineDecoder.decode(file: path) }
        #expect(error.message.contains(c.fragment), "\(error)")
        #expect(error.file == path)
        #expect(error.mark?.line == c.line, "\(error)")
        #expect(error.mark?.column == c.column, "\(error)")
        if let hint = c.hint {
            #expect(error.hint?.contains(hint) == true, "\(error)")
        }
        if let line = c.line, let column = c.column {
            #expect(error.description.hasPrefix("\(path):\(line):\(column): "))
        }
    }

    @Test("every file under Pipelines/broken has a case, so none is silently untested")
    func everyBrokenFileIsTested() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.brokenFolder).filter { $0.hasSuffix(".yaml") }
        #expect(Set(files) == Set(Self.brokenCases.map(\.file)))
        #expect(files.count >= 20)
    }

    static let example = """
        version: 1
        name: lab-counters
        pin-root: /sys/fs/bpf/bpfpipe
        plugin-path: [plugins]
        objects:
          - name: counters
            build:
              source: ../examples/counters/counters.bpf.c
              cflags: ["-DSLOTS=4"]
              include: [../examples/include]
            maps:
              hits: { max-entries: 4096 }
              events: { pin: shared }
            globals:
              port: 8080
            programs:
              count_pkts:
                type: socket
                instances: 4
                preprocess:
                  - stage: set-global
                    with: { variable: slot, values: [10, 20, 30, 40] }
                  - plugin: prologue
                    with: { arg: 1 }

        """

    @Test("the example pipeline decodes to the model it describes")
    func examplePipelineDecodes() throws {
        let spec = try PipelineDecoder.decode(text: Self.example, file: "pipelines/lab.yaml")
        let m = { (line: Int, column: Int) in SourceMark(file: "pipelines/lab.yaml", line: line, column: column) }
        #expect(spec.file == "pipelines/lab.yaml")
        #expect(spec.directory == "pipelines")
        #expect(spec.version == 1)
        #expect(spec.name == "lab-counters")
        #expect(spec.pinRoot == "/sys/fs/bpf/bpfpipe")
        #expect(spec.pluginPath == ["plugins"])
        #expect(spec.objects.count == 1)

        let object = try #require(spec.objects.first)
        #expect(object.name == "counters")
        #expect(object.mark == m(6, 5))
        #expect(object.source == .build(BuildEntry(
            source: "../examples/counters/counters.bpf.c", cflags: ["-DSLOTS=4"],
            include: ["../examples/include"], mark: m(7, 5))))
        #expect(object.maps == [
            "hits": MapEntry(maxEntries: 4096, pin: .object, mark: m(12, 7)),
            "events": MapEntry(maxEntries: nil, pin: .shared, mark: m(13, 7)),
        ])
        #expect(object.globals == ["port": .integer(8080, mark: m(15, 13))])

        let program = try #require(object.programs["count_pkts"])
        #expect(object.programs.count == 1)
        #expect(program.type == "socket")
        #expect(program.instances == 4)
        #expect(program.load == true)
        #expect(program.mark == m(17, 7))
        #expect(program.preprocess.map(\.kind) == [.builtin("set-global"), .plugin("prologue")])
        #expect(program.preprocess.map(\.mark) == [m(21, 13), m(23, 13)])
        #expect(program.preprocess[0].with?.json() == #"{"variable":"slot","values":[10,20,30,40]}"#)
        #expect(program.preprocess[0].with?.mark == m(22, 19))
        #expect(program.preprocess[1].with?.json() == #"{"arg":1}"#)
    }

    @Test("defaults apply when optional keys are left out, and a prebuilt path is kept as written")
    func defaultsApply() throws {
        let spec = try PipelineDecoder.decode(text: """
            version: 1
            name: minimal
            objects:
              - name: a
                path: a.bpf.o
                programs:
                  p:
                  q: { load: false }
            """, file: "minimal.yaml")
        #expect(spec.directory == ".")
        #expect(spec.pinRoot == PipelineSpec.defaultPinRoot)
        #expect(spec.pluginPath.isEmpty)
        let object = try #require(spec.objects.first)
        #expect(object.source == .path("a.bpf.o"))
        #expect(object.maps.isEmpty && object.globals.isEmpty)
        #expect(object.programs["p"]?.instances == 1)
        #expect(object.programs["p"]?.load == true)
        #expect(object.programs["q"]?.load == false)
        #expect(object.programs["q"]?.preprocess.isEmpty == true)
    }

    @Test("globals take integers in decimal and hex, booleans, strings and lists")
    func globalValueKinds() throws {
        let spec = try PipelineDecoder.decode(text: """
            version: 1
            name: globals
            objects:
              - name: a
                path: a.bpf.o
                globals:
                  port: 0x1F90
                  delta: -12
                  min: -9223372036854775808
                  verbose: true
                  label: "8080"
                  tag: hello
                  slots: [1, 2, 0x3]
            """, file: "g.yaml")
        let g = try #require(spec.objects.first).globals
        let m = { (line: Int, column: Int) in SourceMark(file: "g.yaml", line: line, column: column) }
        #expect(g["port"] == .integer(8080, mark: m(7, 13)))
        #expect(g["delta"] == .integer(-12, mark: m(8, 14)))
        #expect(g["min"] == .integer(.min, mark: m(9, 12)))
        #expect(g["verbose"] == .bool(true, mark: m(10, 16)))
        #expect(g["label"] == .string("8080", mark: m(11, 14)))
        #expect(g["tag"] == .string("hello", mark: m(12, 12)))
        #expect(g["slots"] == .list([.integer(1, mark: m(13, 15)), .integer(2, mark: m(13, 18)),
                                     .integer(3, mark: m(13, 21))], mark: m(13, 14)))
    }

    @Test("an alias reuses the anchored node, and takes the alias's place as its mark")
    func aliasReusesNode() throws {
        let spec = try PipelineDecoder.decode(text: """
            version: 1
            name: alias
            objects:
              - name: a
                path: a.bpf.o
                programs:
                  p: &common { instances: 3, type: socket }
                  q: *common
            """, file: "a.yaml")
        let programs = try #require(spec.objects.first).programs
        #expect(programs["q"]?.instances == 3)
        #expect(programs["q"]?.type == "socket")
    }

    @Test("a billion-laughs file is refused within a second, long before it expands")
    func billionLaughsIsQuick() throws {
        let start = ContinuousClock.now
        #expect(throws: PipelineError.self) {
            try PipelineDecoder.decode(file: Self.brokenFolder + "billion-laughs.yaml")
        }
        #expect(ContinuousClock.now - start < .seconds(1))
    }

    @Test("the node limit counts alias expansions, so a small limit refuses a modest expansion")
    func nodeLimitCountsAliases() throws {
        // 1 root + 2 keys + 2 sequences + 3 scalars + 3 aliases of 4 nodes each = 20.
        let text = "a: &a [1, 2, 3]\nb: [*a, *a, *a]\n"
        _ = try YAMLParser.parse(text: text, file: "x.yaml", nodeLimit: 20)
        let error = try #require(throws: PipelineError.self) {
            try YAMLParser.parse(text: text, file: "x.yaml", nodeLimit: 19)
        }
        #expect(error.message.contains("billion laughs"))
    }

    @Test("a YAML syntax error carries libyaml's words and the line and column")
    func syntaxErrorHasLineAndColumn() throws {
        let error = try #require(throws: PipelineError.self) {
            try YAMLParser.parse(text: "a: 1\nb: [1, 2\n", file: "s.yaml")
        }
        #expect(error.mark == SourceMark(file: "s.yaml", line: 3, column: 1))
        #expect(error.message.hasPrefix("invalid YAML: did not find expected ',' or ']'"))
        #expect(error.message.contains("while parsing a flow sequence at 2:4"))
        #expect(error.description.hasPrefix("s.yaml:3:1: invalid YAML:"))
    }

    @Test("with: renders as JSON: numbers, booleans and null typed, quoted scalars kept strings, escapes applied")
    func withRendersAsJSON() throws {
        let node = try YAMLParser.parse(text: #"""
            variable: slot
            values: [10, -2, 0x10]
            quoted: "10"
            on: true
            off: false
            nothing: ~
            empty:
            ratio: 1.5
            text: "tab\there \"q\" back\\slash \u0001 é"
            nested: { list: [], map: {} }
            block: |
              two
              lines
            """#, file: "w.yaml")
        #expect(node.json() == #"{"variable":"slot","values":[10,-2,16],"quoted":"10","on":true,"off":false,"#
            + #""nothing":null,"empty":null,"ratio":"1.5","text":"tab\there \"q\" back\\slash \u0001 é","#
            + #""nested":{"list":[],"map":{}},"block":"two\nlines"}"#)
    }

    @Test("typed reads accept what they should and refuse the rest")
    func typedReads() throws {
        func node(_ text: String) throws -> YAMLNode { try YAMLParser.parse(text: text, file: "t.yaml") }
        #expect(try node("0x7fffffffffffffff").int() == .max)
        #expect(try node("-0x10").int() == -16)
        #expect(throws: PipelineError.self) { try node("9223372036854775808").int() }
        #expect(throws: PipelineError.self) { try node("1e3").int() }
        #expect(throws: PipelineError.self) { try node("010").int() }
        #expect(throws: PipelineError.self) { try node("\"5\"").int() }
        #expect(try node("false").bool() == false)
        #expect(throws: PipelineError.self) { try node("on").bool() }
        #expect(try node("8080").string() == "8080")
        #expect(throws: PipelineError.self) { try node("~").string() }
        #expect(try node("[a, b]").sequence().count == 2)
        #expect(try node("{b: 1, a: 2}").mapping().map { $0.key.scalar?.value } == ["b", "a"])
    }

    @Test("an error's description is file:line:col, the message, and the hint on its own line")
    func errorDescription() {
        let error = PipelineError(at: SourceMark(file: "p.yaml", line: 3, column: 7), "bad", hint: "fix it")
        #expect(error.description == "p.yaml:3:7: bad\n  hint: fix it")
        #expect(PipelineError(mark: nil, file: "p.yaml", message: "empty pipeline file").description
            == "p.yaml: empty pipeline file")
    }

    @Test("near misses get a suggestion; unrelated words do not")
    func suggestions() {
        #expect(Suggestion.nearest(to: "instnaces", in: ["type", "instances", "load"]) == "instances")
        #expect(Suggestion.nearest(to: "Name", in: ["name", "path"]) == "name")
        #expect(Suggestion.nearest(to: "colour", in: ["type", "instances", "load"]) == nil)
    }
}
