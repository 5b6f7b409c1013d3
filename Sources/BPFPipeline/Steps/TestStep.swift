import BPFLoader
import FoundationEssentials
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The test step: runs each program's declared smoke tests (`test:`) with `BPF_PROG_TEST_RUN`
/// once everything is loaded and pinned into staging, before the swap, so that a deployment
/// whose programs fail their own tests never replaces the previous one.
///
/// Tests run in the order written, program by program in file order. Maps are shared by every
/// instance of an object and by its tests, so `expect-maps`, read after the test ran on each
/// instance it names, sees what every earlier test (and, for a kept or shared map, the previous
/// deployment) left there.
struct TestStep {
    let logger: Logger
    /// The pipeline file's folder, which `data-file` paths are relative to.
    let directory: String

    /// One test run on one instance that returned what it should.
    struct Result {
        var object: String
        var program: String
        var report: RunReport.TestReport
    }

    /// Checks the tests of `entry` against the opened object: programs that load, maps that
    /// exist with keys and values of the sizes written, data files that exist. Runs in
    /// `validate` and before every run, so a bad test fails before anything is loaded.
    static func check(_ entry: ObjectEntry, object obj: BPFObject, directory: String) throws {
        for (name, p) in entry.programs where !p.tests.isEmpty {
            guard p.load else {
                throw PipelineError(at: p.tests[0].mark, "program '\(name)' has tests but 'load: false'; nothing would run them",
                                    hint: "remove its 'test' list or its 'load: false'")
            }
            for test in p.tests {
                if case .file(let path) = test.input { _ = try dataFile(path, at: test.inputMark, directory: directory) }
                for m in test.expectMaps {
                    guard let def = obj.spec.maps.first(where: { $0.name == m.map }) else {
                        throw PipelineError(at: m.mark, "object '\(entry.name)' has no map '\(m.map)'",
                                            hint: "its maps: \(obj.spec.maps.map(\.name).joined(separator: ", "))")
                    }
                    guard !MapTypes.isPerCPU(def.type) else {
                        throw PipelineError(at: m.mark, "map '\(m.map)' is a \(MapTypes.name(def.type)) map; 'expect-maps' reads maps with one value per key",
                                            hint: "a per-CPU map holds one value per CPU, and which CPU a test runs on is not fixed")
                    }
                    for e in m.entries {
                        guard e.key.count == Int(def.keySize) else {
                            throw PipelineError(at: e.keyMark, "key \(hex(e.key)) of map '\(m.map)' has \(e.key.count) byte(s); the map's keys have \(def.keySize)")
                        }
                        if let v = e.value, v.count != Int(def.valueSize) {
                            throw PipelineError(at: e.valueMark, "value \(hex(v)) of map '\(m.map)' has \(v.count) byte(s); the map's values have \(def.valueSize)")
                        }
                    }
                }
            }
        }
    }

    /// Runs the tests of one loaded object; throws `LoaderError(.test, ...)` at the first test
    /// that fails, naming the object, program, instance, test and its place in the file.
    func run(_ entry: ObjectEntry, object obj: BPFObject) throws -> [Result] {
        var results: [Result] = []
        let programs = entry.programs.filter { $0.value.load && !$0.value.tests.isEmpty }
            .sorted { ($0.value.mark.line, $0.value.mark.column) < ($1.value.mark.line, $1.value.mark.column) }
        for (name, p) in programs {
            guard let program = obj.program(named: name) else { continue }  // the open step refused it already
            for (index, test) in p.tests.enumerated() {
                let data = try input(test)
                let targets = test.instance.map { [$0] } ?? program.instances.filter { !$0.isSkipped }.map(\.index)
                guard !targets.isEmpty else {
                    throw LoaderError(.test, file: "\(test.mark)", at: "object '\(entry.name)', program '\(name)', test \(index)",
                                      "every instance was skipped by its preprocessor, so the test would run on none",
                                      object: entry.name, program: name, test: index)
                }
                for n in targets {
                    let place = "object '\(entry.name)', program '\(name)', instance \(n), test \(index)"
                    let report: RunReport.TestReport
                    do {
                        report = try runInstance(n, of: program, test, index: index, data: data, place: place)
                    } catch var e as LoaderError {
                        (e.object, e.test) = (entry.name, index)
                        throw e.about(program: name, instance: n)
                    }
                    logger.info("instance tested", metadata: [
                        "step": "test", "object": "\(entry.name)", "program": "\(name)", "instance": .stringConvertible(n),
                        "test": .stringConvertible(index), "return": .stringConvertible(report.returnValue),
                        "repeat": .stringConvertible(test.repeatCount), "duration_ms": .stringConvertible(report.durationMs),
                        "avg_ns": .stringConvertible(report.averageNs),
                    ])
                    results.append(Result(object: entry.name, program: name, report: report))
                }
                let instances = targets.count == 1 ? "instance \(targets[0])" : "every instance"
                do {
                    try checkMaps(test, object: obj, place: "object '\(entry.name)', program '\(name)', \(instances), test \(index)")
                } catch var e as LoaderError {
                    (e.object, e.test) = (entry.name, index)
                    throw e.about(program: name, instance: targets.count == 1 ? targets[0] : nil)
                }
            }
        }
        return results
    }

    /// Runs one test on one instance and checks its return value.
    private func runInstance(_ n: Int, of program: Program, _ test: ProgramTest, index: Int, data: [UInt8], place: String) throws -> RunReport.TestReport {
        guard n < program.instances.count, !program.instances[n].isSkipped else {
            throw LoaderError(.test, file: "\(test.instanceMark ?? test.mark)", at: place,
                              "instance \(n) was skipped by its preprocessor, so it cannot be tested")
        }
        let start = MonotonicClock.nanoseconds()
        let outcome: TestRunOutcome
        do {
            outcome = try program.testRun(instance: n, data: data, repeat: UInt32(test.repeatCount))
        } catch let e as LoaderError {
            throw LoaderError(.test, file: "\(test.mark)", at: place, e.message, errno: e.errno, hint: e.hint)
        }
        let ms = PipelineRunner.ms(MonotonicClock.nanoseconds() - start)
        if let expected = test.expectReturn, UInt32(truncatingIfNeeded: expected) != outcome.returnValue {
            let got = expected < 0 ? "\(Int32(bitPattern: outcome.returnValue))" : "\(outcome.returnValue)"
            throw LoaderError(.test, file: "\(test.mark)", at: place, "returned \(got), expected \(expected)"
                              + (test.repeatCount > 1 ? " (run \(test.repeatCount) times)" : ""))
        }
        return RunReport.TestReport(test: index, at: "\(test.mark)", instance: n, returnValue: outcome.returnValue,
                                    repeatCount: test.repeatCount, durationMs: ms, averageNs: outcome.averageNanoseconds)
    }

    /// Compares each `expect-maps` entry with what the map holds now, byte for byte.
    private func checkMaps(_ test: ProgramTest, object obj: BPFObject, place: String) throws {
        for m in test.expectMaps {
            guard let map = obj.map(named: m.map) else {
                throw LoaderError(.test, file: "\(m.mark)", at: place, "map '\(m.map)' was not created")
            }
            for e in m.entries {
                let got: [UInt8]?
                do {
                    got = try map.lookup(key: e.key)
                } catch let errno as Errno {
                    throw LoaderError(.test, file: "\(e.keyMark)", at: place, "cannot read key \(hex(e.key)) of map '\(m.map)'", errno: errno)
                }
                let mark = "\(e.value == nil ? e.keyMark : e.valueMark)"
                switch (e.value, got) {
                case (nil, nil):
                    continue
                case (nil, let g?):
                    throw LoaderError(.test, file: mark, at: place, "map '\(m.map)' key \(hex(e.key)) holds \(hex(g)), expected no entry")
                case (let v?, nil):
                    throw LoaderError(.test, file: mark, at: place, "map '\(m.map)' has no entry for key \(hex(e.key)), expected \(hex(v))")
                case (let v?, let g?):
                    guard v == g else {
                        throw LoaderError(.test, file: mark, at: place, "map '\(m.map)' key \(hex(e.key)) holds \(hex(g)), expected \(hex(v))")
                    }
                }
            }
        }
    }

    /// The test's data: read from its file at run time (it may change between validate and run).
    private func input(_ test: ProgramTest) throws -> [UInt8] {
        switch test.input {
        case .bytes(let b): return b
        case .zeros(let n): return [UInt8](repeating: 0, count: n)
        case .file(let path):
            do {
                return try Self.dataFile(path, at: test.inputMark, directory: directory)
            } catch let e as PipelineError {
                throw LoaderError(.test, file: "\(test.inputMark)", at: nil, e.message)
            }
        }
    }

    /// The bytes of a `data-file`, refused when missing, unreadable or too large.
    static func dataFile(_ path: String, at mark: SourceMark, directory: String) throws -> [UInt8] {
        let full = Paths.absolute(path, relativeTo: directory)
        var st = stat()
        guard stat(full, &st) == 0 else { throw PipelineError(at: mark, "'data-file' \(full) does not exist") }
        // Sized before it is read: a FIFO or /dev/zero would never end.
        guard st.st_mode & S_IFMT == S_IFREG else { throw PipelineError(at: mark, "'data-file' \(full) is not a regular file") }
        guard st.st_size <= ProgramTest.maximumDataSize else {
            throw PipelineError(at: mark, "'data-file' \(full) has \(st.st_size) bytes, more than \(ProgramTest.maximumDataSize)")
        }
        guard let data = FileManager.default.contents(atPath: full), data.count <= ProgramTest.maximumDataSize else {
            throw PipelineError(at: mark, "'data-file' \(full) cannot be read")
        }
        return [UInt8](data)
    }
}

/// Bytes as written in `expect-maps`: `0x` and two hex digits per byte, in memory order.
fileprivate func hex(_ bytes: [UInt8]) -> String {
    "0x" + bytes.map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }.joined()
}
