import ArgumentParser
import BPFLoader
import BPFPipeline
import Logging

enum LogFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// Options shared by `run`, `plan` and `validate`.
struct PipelineOptions: ParsableArguments {
    @Argument(help: "The pipeline file (YAML).")
    var file: String

    @Option(name: .customLong("log-format"), help: "Records as readable text or as JSON lines (\(LogFormat.allCases.map(\.rawValue).joined(separator: ", "))).")
    var logFormat: LogFormat = .text

    @Flag(name: .long, help: "Also log debug records (relocated instruction counts).")
    var verbose = false

    @Option(name: .long, help: "The clang to compile BPF C with (default: clang from PATH).")
    var clang = "clang"

    @Option(name: .customLong("cache-dir"), help: "Where compiled objects are cached (default: $XDG_CACHE_HOME/bpfpipe or ~/.cache/bpfpipe).")
    var cacheDir: String?

    @Option(name: .long, help: "Write a JSON report of what was loaded and pinned to this file.")
    var report: String?

    func makeLogger() -> Logger {
        let format = logFormat
        let level: Logger.Level = verbose ? .debug : .info
        var logger = Logger(label: "bpfpipe") { _ in
            format == .json ? JSONLogHandler() as LogHandler : TextLogHandler() as LogHandler
        }
        logger.logLevel = level
        return logger
    }

    /// Decodes the file, runs the steps `mode` asks for, writes the report; maps failures to the
    /// documented exit codes.
    func execute(_ mode: PipelineRunner.Mode) throws -> RunResult {
        let logger = makeLogger()
        do {
            let spec = try PipelineDecoder.decode(file: file)
            if mode == .run { try Environment.checkCanLoad(pinRoot: spec.pinRoot) }
            let runner = PipelineRunner(spec: spec, logger: logger,
                                        build: BuildStep(clang: clang, cacheDirectory: cacheDir ?? BuildStep.defaultCacheDirectory))
            let result = try runner.execute(mode)
            if let report { try writeJSON(result.report, to: report) }
            return result
        } catch let e as PipelineError {
            printError("error: \(e)")
            throw ExitCodes.invalidInput
        } catch let e as EnvironmentError {
            printError("error: \(e)")
            throw ExitCodes.environment
        } catch let e as ExitCode {
            throw e
        } catch {
            throw fail(error)
        }
    }
}
