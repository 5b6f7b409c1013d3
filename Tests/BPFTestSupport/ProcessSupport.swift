import Foundation

/// The repository root, found from this file (Tests/BPFTestSupport/ProcessSupport.swift).
public let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// A test fixture that could not be made (a compiler failed, a file was not what it should be).
public struct FixtureFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// A finished child process: exit status and what it wrote.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// A started child process (never through a shell) whose output goes to temporary files, so
/// that neither a chatty child nor two children at once can block on a full pipe.
public final class ChildProcess {
    let process = Process()
    let out: String
    let err: String
    // Kept open until the child is done with them.
    private let handles: [FileHandle]

    /// `environment` replaces the child's environment; nil inherits this process's.
    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws {
        let base = NSTemporaryDirectory() + "bpfpipe-child-\(getpid())-\(UUID().uuidString.prefix(8))"
        out = base + ".out"
        err = base + ".err"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        handles = [try FileHandle(forWritingTo: URL(fileURLWithPath: out)), try FileHandle(forWritingTo: URL(fileURLWithPath: err))]
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardOutput = handles[0]
        process.standardError = handles[1]
        do {
            try process.run()
        } catch {
            removeFiles()
            throw error
        }
    }

    /// Waits for the child to end and returns its status and output.
    public func wait() throws -> ProcessResult {
        process.waitUntilExit()
        defer { removeFiles() }
        func text(_ path: String) -> String { String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self) }
        return ProcessResult(status: process.terminationStatus, stdout: text(out), stderr: text(err))
    }

    /// Like `wait()`, but a child still running after `limit` seconds is killed (SIGKILL) and
    /// this throws: a safety net so that a test of something that must not hang fails instead
    /// of hanging the run. Not a timing assertion; give it a generous limit.
    public func wait(killingAfter limit: Double) throws -> ProcessResult {
        let deadline = Date().addingTimeInterval(limit)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            removeFiles()
            throw FixtureFailure("\(process.executableURL?.path ?? "child") still running after \(limit) s; killed it")
        }
        return try wait()
    }

    private func removeFiles() {
        try? FileManager.default.removeItem(atPath: out)
        try? FileManager.default.removeItem(atPath: err)
    }
}

/// Runs `executable` with `arguments`, waits for it, and returns its status and output.
public func runProcess(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> ProcessResult {
    try ChildProcess(executable, arguments, environment: environment).wait()
}

/// The `bpfpipe` built beside the test bundle (in .build/<config>/); the bundle may sit one level
/// deeper (*.xctest/...), so the folder above is tried too.
public let bpfpipeExecutable: String = {
    let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    let beside = dir.appendingPathComponent("bpfpipe").path
    return FileManager.default.isExecutableFile(atPath: beside) ? beside : dir.deletingLastPathComponent().appendingPathComponent("bpfpipe").path
}()

/// Runs the built `bpfpipe` with `arguments` and captures its output.
public func runBPFPipe(_ arguments: [String]) throws -> ProcessResult {
    try runProcess(bpfpipeExecutable, arguments)
}

/// Builds a C preprocessor plugin the way an outside author would: `cc -shared -fPIC` against
/// bpfpipe/plugin.h alone, with `-D` for each of `defines`. `source` need not be named *.c
/// (fixtures are not, or SwiftPM would take them for sources of the test target).
public func buildPlugin(source: String, output: String, defines: [String] = []) throws {
    let r = try runProcess("/usr/bin/env", ["cc", "-shared", "-fPIC", "-Wall", "-I\(repositoryRoot)/Sources/BPFPipePluginABI/include"]
                           + defines.map { "-D\($0)" } + ["-x", "c", source, "-o", output])
    guard r.status == 0 else { throw FixtureFailure("cc failed for \(source):\n\(r.stderr)") }
}
