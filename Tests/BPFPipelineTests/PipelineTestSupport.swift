import Foundation
import Logging
import Testing
@testable import BPFLoader
@testable import BPFPipeline
import BPFTestSupport

/// Log lines captured from a `JSONLogHandler`.
final class CapturedLines: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    func append(_ s: String) { lock.lock(); stored.append(s); lock.unlock() }
    var lines: [String] { lock.lock(); defer { lock.unlock() }; return stored }
}

/// Decodes a pipeline (a bundled one or inline text), pins it under a fresh test folder, and runs it.
struct PipelineHarness {
    let pins: PinDirectory
    let cache: String
    let lines = CapturedLines()

    init() throws {
        pins = try PinDirectory()
        cache = NSTemporaryDirectory() + "bpfpipe-cache-\(getpid())"
    }

    func decode(file: String) throws -> PipelineSpec {
        var spec = try PipelineDecoder.decode(file: file)
        spec.pinRoot = pins.path
        return spec
    }

    func decode(text: String, name: String = "inline") throws -> PipelineSpec {
        let path = "\(repositoryRoot)/pipelines/\(name)-\(getpid())-\(UUID().uuidString.prefix(6)).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try decode(file: path)
    }

    func runner(_ spec: PipelineSpec) -> PipelineRunner {
        let captured = lines
        var logger = Logger(label: "test") { _ in JSONLogHandler(sink: { captured.append($0) }) }
        logger.logLevel = .debug
        return PipelineRunner(spec: spec, logger: logger, build: BuildStep(cacheDirectory: cache))
    }

    /// Runs the pinned program instance and returns its return value.
    func run(_ path: String, data: [UInt8] = [UInt8](repeating: 0, count: 64)) throws -> UInt32 {
        let fd = try BPFCommand.get(pinned: path).get()
        return try BPFCommand.testRun(fd, data: data).get().returnValue
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
