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

/// iproute2's `ip`, wherever this system keeps it.
let ipExecutable = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/sbin/ip"

/// Runs `ip` with `arguments`; a failure is a test fixture failure with ip's message.
@discardableResult
func ip(_ arguments: [String]) throws -> BoundedResult {
    let r = try runBounded(ipExecutable, arguments, seconds: 30)
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

    /// Starts the victim waiting on stdin, so its pid is known before it calls the function;
    /// `go()` lets it make its calls and waits (at most 30 s) for it to exit.
    func start(_ times: Int) throws -> (pid: Int32, go: () throws -> Int32) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [String(times), "wait"]
        let input = Pipe()
        process.standardInput = input
        let done = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in done.signal() }
        try process.run()
        return (process.processIdentifier, {
            input.fileHandleForWriting.write(Data([0x2a]))
            if done.wait(timeout: .now() + 30) == .timedOut {
                kill(process.processIdentifier, SIGKILL)
                done.wait()
                throw FixtureError(message: "victim did not finish within 30 s; killed")
            }
            return process.terminationStatus
        })
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

/// Polls `condition` until it holds or `seconds` pass; returns whether it held. For what the
/// kernel does after an RCU grace period (freeing an unpinned link or an unused program).
func eventually(seconds: Double = 20, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        usleep(20_000)
    }
    return try condition()
}

/// Whether the kernel still has link `id` (`bpftool link show id N` succeeds).
func kernelHasLink(_ id: UInt32) -> Bool {
    (try? runBounded("/usr/sbin/bpftool", ["link", "show", "id", String(id)], seconds: 30).status) == 0
}
