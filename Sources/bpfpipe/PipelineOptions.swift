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

    @Flag(name: .customLong("allow-unsafe-paths"), help: "Accept objects and plugins that others could have replaced (world-writable files or folders).")
    var allowUnsafePaths = false

    @OptionGroup var locking: LockOptions

    func makeLogger(quiet: Bool = false) -> Logger {
        let format = logFormat
        let level: Logger.Level = quiet ? .error : (verbose ? .debug : .info)
        var logger = Logger(label: "bpfpipe") { _ in
            format == .json ? JSONLogHandler() as LogHandler : TextLogHandler() as LogHandler
        }
        logger.logLevel = level
        return logger
    }

    /// Decodes the file, runs the steps `mode` asks for, writes the report; maps failures to the
    /// documented exit codes.
    /// A `.run` is idempotent (`PipelineRunner.deploy`) unless `force`.
    func execute(_ mode: PipelineRunner.Mode, quiet: Bool = false, force: Bool = false, jobs: Int? = nil) throws -> RunResult {
        let logger = makeLogger(quiet: quiet)
        do {
            let spec = try PipelineDecoder.decode(file: file)
            if mode == .run { try Environment.checkCanLoad(pinRoot: spec.pinRoot) }
            var runner = PipelineRunner(spec: spec, logger: logger,
                                        build: BuildStep(clang: clang, cacheDirectory: cacheDir ?? BuildStep.defaultCacheDirectory))
            runner.allowUnsafePaths = allowUnsafePaths
            runner.jobs = jobs
            let lock = mode == .run ? try locking.acquire(runner.deploymentDirectory) : nil
            let result = mode == .run ? try runner.deploy(force: force) : try runner.execute(mode)
            withExtendedLifetime(lock) {}
            if let report { try writeJSON(result.report, to: report) }
            return result
        } catch {
            throw fail(error)
        }
    }
}

/// `--lock-timeout`, shared by the commands that change a deployment.
struct LockOptions: ParsableArguments {
    @Option(name: .customLong("lock-timeout"), help: "Seconds to wait for another run on the same deployment to finish (default 60).")
    var lockTimeout: Double = 60

    func acquire(_ deployment: String) throws -> DeploymentLock {
        do {
            return try DeploymentLock(deployment: deployment, timeout: lockTimeout)
        } catch {
            throw fail(error)
        }
    }
}

/// Decodes a pipeline file or exits 2 with its `file:line:col` error.
func decodeOrExit(_ file: String) throws -> PipelineSpec {
    do {
        return try PipelineDecoder.decode(file: file)
    } catch {
        throw fail(error)
    }
}
