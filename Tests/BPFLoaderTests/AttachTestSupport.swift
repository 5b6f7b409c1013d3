import Foundation
import Testing
@testable import BPFLoader

/// A finished child's status and output.
struct BoundedResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a child with a deadline: killed (SIGKILL) when it outlives `seconds`, so no test hangs.
func runBounded(_ executable: String, _ arguments: [String], seconds: Double = 60) throws -> BoundedResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let done = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in done.signal() }
    try process.run()
    // Drained as the child writes, so a chatty child cannot block on a full pipe.
    nonisolated(unsafe) var stdout = Data(), stderr = Data()
    let readers = DispatchGroup()
    DispatchQueue.global().async(group: readers) { stdout = out.fileHandleForReading.readDataToEndOfFile() }
    DispatchQueue.global().async(group: readers) { stderr = err.fileHandleForReading.readDataToEndOfFile() }
    if done.wait(timeout: .now() + seconds) == .timedOut {
        kill(process.processIdentifier, SIGKILL)
        done.wait()
        readers.wait()
        throw FixtureError(message: "\(executable) \(arguments.joined(separator: " ")) did not finish within \(Int(seconds)) s; killed")
    }
    readers.wait()
    return BoundedResult(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                         stderr: String(decoding: stderr, as: UTF8.self))
}

/// Runs `ip` with `arguments`; a failure is a test fixture failure with ip's message.
@discardableResult
func ip(_ arguments: [String]) throws -> BoundedResult {
    let r = try runBounded("/usr/sbin/ip", arguments, seconds: 30)
    guard r.status == 0 else { throw FixtureError(message: "ip \(arguments.joined(separator: " ")): \(r.stderr)") }
    return r
}

/// The user programs uprobe tests probe, built from Fixtures/victim.c.fixture into a folder of
/// their own, so that no other test's runs fire this test's probes.
struct Victim {
    let directory: String
    /// The executable; with `sharedObject`, it calls the function in `library`.
    let executable: String
    let library: String?

    enum Build { case pie, fixedAddress, sharedObject }

    init(_ build: Build) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("bpfpipe-victim-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let source = "\(Fixtures.directory)/victim.c.fixture"
        executable = directory + "/victim"
        func cc(_ args: [String]) throws {
            let r = try runBounded("/usr/bin/env", ["clang", "-O1", "-x", "c"] + args, seconds: 120)
            guard r.status == 0 else { throw FixtureError(message: "clang \(args): \(r.stderr)") }
        }
        switch build {
        case .pie:
            library = nil
            try cc([source, "-fPIE", "-pie", "-o", executable])
        case .fixedAddress:
            library = nil
            try cc([source, "-fno-pie", "-no-pie", "-o", executable])
        case .sharedObject:
            library = directory + "/libprobed.so"
            try cc(["-DNO_MAIN", "-fPIC", "-shared", source, "-o", library!])
            try cc(["-DNO_FUNCTION", source, "-L", directory, "-lprobed", "-Wl,-rpath," + directory, "-o", executable])
        }
    }

    /// Runs the victim, which calls the probed function `times` times.
    func run(_ times: Int) throws {
        let r = try runBounded(executable, [String(times)], seconds: 30)
        guard r.status == 0 else { throw FixtureError(message: "victim exited \(r.status): \(r.stderr)") }
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}
