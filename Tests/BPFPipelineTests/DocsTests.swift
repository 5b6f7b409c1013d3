import Foundation
import Testing
@testable import BPFLoader
@testable import BPFPipeline
import BPFTestSupport

/// An error text the documentation quotes. Marked in the Markdown with `<!-- error -->` right
/// before an inline code span, or on the line before a fenced block (the whole block is one
/// text). In the text, `<name>` stands for a value, `…` for any text, and an absolute path for
/// any path.
struct QuotedError: CustomStringConvertible {
    var file: String
    var line: Int
    var text: String
    var description: String { "\(file):\(line): \(text)" }

    /// README.md and every Markdown file under docs/.
    static var documents: [String] {
        let docs = (try? FileManager.default.contentsOfDirectory(atPath: "\(repositoryRoot)/docs")) ?? []
        return ["README.md"] + docs.filter { $0.hasSuffix(".md") }.sorted().map { "docs/\($0)" }
    }

    static func all() throws -> [QuotedError] {
        try documents.flatMap { name in
            try extract(from: String(contentsOfFile: "\(repositoryRoot)/\(name)", encoding: .utf8), file: name)
        }
    }

    static func extract(from markdown: String, file: String) -> [QuotedError] {
        let lines = markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var found: [QuotedError] = []
        var i = 0
        while i < lines.count {
            let line = lines[i]
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed == "<!-- error -->", i + 1 < lines.count, lines[i + 1].trimmingCharacters(in: .whitespaces).hasPrefix("```") {
                // A fenced block: its lines, less the fence's indentation, up to the closing fence.
                let indent = lines[i + 1].prefix { $0 == " " }.count
                var body: [String] = []
                var j = i + 2
                while j < lines.count, !lines[j].trimmingCharacters(in: .whitespaces).hasPrefix("```") {
                    body.append(String(lines[j].dropFirst(min(indent, lines[j].prefix { $0 == " " }.count))))
                    j += 1
                }
                found.append(QuotedError(file: file, line: i + 3, text: body.joined(separator: "\n")))
                i = j + 1
                continue
            }
            // Inline: `<!-- error -->` and then a code span, which may run onto the next lines.
            var rest = Substring(line)
            while let marker = rest.range(of: "<!-- error -->`") {
                var span = String(rest[marker.upperBound...])
                var j = i
                while !span.contains("`"), j + 1 < lines.count {
                    j += 1
                    span += " " + lines[j].trimmingCharacters(in: .whitespaces)
                }
                let text = String(span.prefix { $0 != "`" })
                found.append(QuotedError(file: file, line: i + 1, text: text))
                rest = rest[marker.upperBound...]
            }
            i += 1
        }
        return found
    }

    /// The text as a regular expression over what bpfpipe says.
    func pattern() throws -> Regex<AnyRegexOutput> {
        var out = ""
        var k = text.startIndex
        while k < text.endIndex {
            let c = text[k]
            let atWordStart = k == text.startIndex || " ('\n".contains(text[text.index(before: k)])
            if c == "…" {
                out += ".*?"
                k = text.index(after: k)
            } else if c == "<", let close = text[k...].firstIndex(of: ">"),
                      text[text.index(after: k)..<close].allSatisfy({ $0.isLetter || $0 == "_" || $0 == "-" }) {
                out += ".+?"
                k = text.index(after: close)
            } else if c == "/", atWordStart {
                // An absolute path: any path, up to a space, a colon, a quote or parenthesis.
                out += "/[^\\s:;']+?"
                k = text[k...].firstIndex { " :;'\n".contains($0) || $0 == ")" } ?? text.endIndex
            } else {
                out += NSRegularExpression.escapedPattern(for: String(c))
                k = text.index(after: k)
            }
        }
        return try Regex(out)
    }

    func isSaid(in messages: [String]) throws -> Bool {
        let p = try pattern()
        return messages.contains { (try? p.firstMatch(in: $0)) != nil }
    }
}

/// Every error text the docs quote is produced by the code: each case below makes bpfpipe fail
/// the way a section of the docs describes, and every quoted text must match one of the
/// messages collected (so a reworded message, or a doc quoting a message no longer printed,
/// fails here).
@Suite(.enabled(if: KernelGate.enabled, "needs bpf() as root"), .kernel)
struct DocsTests {
    init() {
        setenv("BPFPIPE_PLUGIN_HOST", bpfpipeExecutable, 1)
    }

    @Test func theMarkersAreFoundAndAWrongTextDoesNotMatch() throws {
        let quoted = try QuotedError.all()
        #expect(quoted.count >= 17, "\(quoted)")
        #expect(quoted.allSatisfy { !$0.text.isEmpty && !$0.text.contains("`") })
        let wrong = QuotedError(file: "x", line: 1, text: "plugin <path> crashed with signal 9 while starting")
        #expect(try !wrong.isSaid(in: ["error: plugin /tmp/x.so crashed with signal 11 (SIGSEGV) while starting"]))
        let right = QuotedError(file: "x", line: 1, text: "error: plugin /a/b.so crashed with signal 11 (SIGSEGV) while <what>")
        #expect(try right.isSaid(in: ["error: plugin /tmp/x.so crashed with signal 11 (SIGSEGV) while starting"]))
    }

    @Test func everyQuotedErrorTextIsWhatBpfpipeSays() throws {
        let messages = try Self.triggerEveryDocumentedError()
        for quoted in try QuotedError.all() {
            #expect(try quoted.isSaid(in: messages), "\(quoted)\nis not what bpfpipe says; it said:\n\(messages.joined(separator: "\n---\n"))")
        }
    }

    /// `tagged` of the counters example, with one preprocess entry.
    static func tagged(_ name: String, entry: String, instances: Int = 3, pinRoot: String? = nil, maps: String = "") -> String {
        """
        version: 1
        name: \(name)
        \(pinRoot.map { "pin-root: \($0)" } ?? "")
        objects:
          - name: counters
            build: { source: \(countersSource) }
            \(maps)
            programs:
              tagged:
                instances: \(instances)
                preprocess:
        \(entry)
              count_pkts: { load: false }
              with_arg: { load: false }
        """
    }

    static func plugin(_ path: String, with: String = "{}", isolation: String = "in-process") -> String {
        """
                  - plugin: \(path)
                    isolation: \(isolation)
                    with: \(with)
        """
    }

    /// Runs `text` as `bpfpipe run` would and returns what it prints for the failure.
    static func failure(_ text: String, _ h: PipelineHarness) -> String {
        do {
            _ = try h.runner(try h.decode(text: text)).execute(.run)
            return "(no error)"
        } catch {
            return "error: \(error)"
        }
    }

    /// The CLI's stderr for `bpfpipe run` on `text`, with `environment` added.
    static func cliFailure(_ text: String, environment: [String: String] = [:], arguments: [String] = []) throws -> String {
        let file = try PipelineFile(text)
        var env = ProcessInfo.processInfo.environment
        env["BPFPIPE_PLUGIN_HOST"] = bpfpipeExecutable
        for (k, v) in environment { env[k] = v }
        return try ChildProcess(bpfpipeExecutable, ["run", file.path, "--cache-dir", file.cache] + arguments, environment: env).wait(killingAfter: 180).stderr
    }

    static func triggerEveryDocumentedError() throws -> [String] {
        var said: [String] = []
        let h = try PipelineHarness()
        let faulty = try TestPlugin.faulty(), noEntry = try TestPlugin.faulty(defines: ["NO_ENTRY"])
        let otherABI = try TestPlugin.faulty(defines: ["ABI_VERSION=99"])
        let crashy = try TestPlugin("\(repositoryRoot)/Tests/BPFPipelineTests/Pipelines/plugins/crashy.c", name: "crashy")
        defer { for p in [faulty, noEntry, otherABI, crashy] { p.remove() } }

        // plugins.md, Errors.
        let text = faulty.folder.path + "/libtext.so"
        try "not an ELF file\n".write(toFile: text, atomically: true, encoding: .utf8)
        said.append(failure(tagged("doc-text", entry: plugin(text)), h))
        said.append(failure(tagged("doc-noentry", entry: plugin(noEntry.path)), h))
        said.append(failure(tagged("doc-abi", entry: plugin(otherABI.path)), h))
        said.append(failure(tagged("doc-init", entry: plugin(faulty.path, with: "{ mode: init-fails }")), h))
        said.append(failure(tagged("doc-prep", entry: plugin(faulty.path, with: "{ mode: prep-fails }")), h))
        said.append(failure(tagged("doc-negative", entry: plugin(faulty.path, with: "{ mode: negative }")), h))
        said.append(failure(tagged("doc-crash", entry: plugin(crashy.path, isolation: "process")), h))
        let pins = try PinDirectory()
        let pidfile = faulty.folder.path + "/pid"
        said.append(try cliFailure(tagged("doc-hang", entry: plugin(faulty.path, with: "{ mode: hang, pidfile: \"\(pidfile)\" }", isolation: "process"),
                                          pinRoot: pins.path), environment: ["BPFPIPE_PLUGIN_TIMEOUT": "5"]))
        said.append(try cliFailure(tagged("doc-nohost", entry: plugin(faulty.path, isolation: "process"), pinRoot: pins.path),
                                   environment: ["BPFPIPE_PLUGIN_HOST": "/nonexistent/bpfpipe"]))

        // plugins.md, What bpfpipe checks: a call into the middle of a function.
        let instances = try BuildStep(cacheDirectory: h.cache).build(source: "\(repositoryRoot)/Tests/BPFLoaderTests/Fixtures/instances.bpf.c",
                                                                     cflags: [], include: [])
        let obj = try BPFObject.open(path: instances.object)
        try obj.program(named: "which_sub")!.setPreprocessor(instances: 1) { _, insns in
            var out = insns
            if let call = out.firstIndex(where: { $0.isPseudoCall }) { out[call].immediate += 1 }
            return out
        }
        do { try obj.load(); said.append("(no error)") } catch { said.append("error: \(error)") }

        // pipeline.md, general rules: a misspelt key.
        let typo = try TemporaryFolder("typo")
        defer { typo.remove() }
        try """
        version: 1
        name: typo
        objects:
          - name: counters
            build: { source: \(countersSource) }
            programs:
              tagged:
                load: true
                instance: 3
        """.write(toFile: "\(typo.path)/typo.yaml", atomically: true, encoding: .utf8)
        do { _ = try PipelineDecoder.decode(file: "\(typo.path)/typo.yaml"); said.append("(no error)") } catch { said.append("error: \(error)") }

        // pipeline.md: on-mismatch on a map that is not kept, isolation on a stage.
        said.append(failure(tagged("doc-mismatch", entry: "          - stage: skip\n            with: { except: [1] }",
                                   maps: "maps:\n      hits: { on-mismatch: recreate }"), h))
        said.append(failure(tagged("doc-isolation", entry: "          - stage: skip\n            isolation: process\n            with: { except: [1] }"), h))

        // pipeline.md, on-mismatch: refuse.
        let shared = "maps:\n      hits: { pin: shared }"
        let skip = "          - stage: skip\n            with: { except: [1] }"
        _ = try h.runner(try h.decode(text: tagged("doc-kept", entry: skip, maps: shared))).execute(.run)
        said.append(failure(tagged("doc-kept", entry: skip, maps: "maps:\n      hits: { pin: shared, max-entries: 8 }"), h))

        // pipeline.md, Locking: another run holds the deployment's lock.
        let lockPins = try PinDirectory()
        let lock = try DeploymentLock(deployment: "\(lockPins.path)/doc-lock", timeout: 0)
        said.append(try cliFailure(tagged("doc-lock", entry: skip, pinRoot: lockPins.path), arguments: ["--lock-timeout", "0"]))
        withExtendedLifetime(lock) {}

        // pipeline.md, Unsafe paths.
        let unsafe = try TemporaryFolder("unsafe")
        defer { unsafe.remove() }
        let build = try BuildStep(cacheDirectory: h.cache).build(source: countersSource, cflags: [], include: [])
        let object = "\(unsafe.path)/counters.bpf.o"
        try FileManager.default.copyItem(atPath: build.object, toPath: object)
        chmod(object, 0o666)
        said.append(failure("""
        version: 1
        name: doc-unsafe
        objects:
          - name: c
            path: \(object)
            programs:
              count_pkts: {}
              tagged: { load: false }
              with_arg: { load: false }
        """, h))

        // pipeline.md: value-size, attach-to, libbpf's words, set-global, patch-imm, prologue.
        said += try OverrideDocErrors.trigger(h)
        return said
    }
}
