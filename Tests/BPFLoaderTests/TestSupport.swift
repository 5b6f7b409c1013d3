import Foundation
import Testing
@testable import BPFLoader

/// Compiles the BPF C fixtures beside this file with the toolchain's clang, once per process.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path
    static let outputDirectory: String = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bpfpipe-fixtures-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }()
    private static let lock = NSLock()
    nonisolated(unsafe) private static var built: [String: String] = [:]

    /// Path of the compiled object for `name.bpf.c`, with extra clang flags.
    static func object(_ name: String, flags: [String] = []) throws -> String {
        let key = ([name] + flags).joined(separator: " ")
        lock.lock(); defer { lock.unlock() }
        if let path = built[key] { return path }
        let out = "\(outputDirectory)/\(name)-\(abs(key.hashValue)).o"
        try compile(source: "\(directory)/\(name).bpf.c", output: out, flags: flags)
        built[key] = out
        return out
    }

    static func compile(source: String, output: String, flags: [String] = []) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["clang", "-O2", "-g", "-target", "bpf", "-I/usr/include/\(machine())-linux-gnu", "-c", source, "-o", output] + flags
        let err = Pipe()
        p.standardError = err
        try p.run()
        let msg = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        if p.terminationStatus != 0 {
            throw FixtureError(message: "clang failed on \(source): \(String(decoding: msg, as: UTF8.self))")
        }
    }

    static func machine() -> String {
        var u = utsname()
        uname(&u)
        return withUnsafeBytes(of: &u.machine) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Gates kernel tests on a capability probe. CI sets BPFPIPE_REQUIRE_KERNEL=1, which makes the
/// tests run (and fail loudly) where the probe fails, instead of skipping silently.
enum KernelGate {
    static let probe: Bool = {
        // A tiny array map: possible only with bpf() allowed and the right capabilities.
        var attrs = BPFCommand.MapAttributes(type: 2, keySize: 4, valueSize: 4, maxEntries: 1)
        attrs.name = "probe"
        if case .success = BPFCommand.createMap(attrs) { return true }
        return false
    }()
    static let required = ProcessInfo.processInfo.environment["BPFPIPE_REQUIRE_KERNEL"] == "1"
    static let enabled = probe || required
}

/// Kernel tests run in parallel; a test that counts this process's open fds must run alone.
/// Every kernel test holds this lock shared, the fd-counting ones exclusively.
actor DescriptorLock {
    static let shared = DescriptorLock()
    private var readers = 0
    private var writer = false
    private var waiting: [(exclusive: Bool, resume: CheckedContinuation<Void, Never>)] = []

    func acquire(exclusive: Bool) async {
        if canEnter(exclusive) && waiting.isEmpty { enter(exclusive); return }
        await withCheckedContinuation { waiting.append((exclusive, $0)) }
    }

    func release(exclusive: Bool) {
        if exclusive { writer = false } else { readers -= 1 }
        while let next = waiting.first, canEnter(next.exclusive) {
            waiting.removeFirst()
            enter(next.exclusive)
            next.resume.resume()
        }
    }

    private func canEnter(_ exclusive: Bool) -> Bool { exclusive ? (!writer && readers == 0) : !writer }
    private func enter(_ exclusive: Bool) { if exclusive { writer = true } else { readers += 1 } }
}

/// `.kernel`: holds the descriptor lock shared around a suite; `.kernel(countingDescriptors: true)`
/// holds it alone, for suites that count open fds.
struct KernelTrait: TestTrait, SuiteTrait, TestScoping {
    var countingDescriptors = false
    // Applied to a suite, the lock is held once around the whole suite.
    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        await DescriptorLock.shared.acquire(exclusive: countingDescriptors)
        do {
            try await function()
        } catch {
            await DescriptorLock.shared.release(exclusive: countingDescriptors)
            throw error
        }
        await DescriptorLock.shared.release(exclusive: countingDescriptors)
    }
}

extension Trait where Self == KernelTrait {
    static var kernel: KernelTrait { KernelTrait() }
    static func kernel(countingDescriptors: Bool) -> KernelTrait { KernelTrait(countingDescriptors: countingDescriptors) }
}

/// A fresh folder under /sys/fs/bpf for one test's pins, removed (with everything in it) at the end.
final class PinDirectory {
    let path: String
    init(_ label: String = #function) throws {
        try BPFFS.prepare(BPFFS.defaultMountPoint)
        let safe = label.filter { $0.isLetter || $0.isNumber }
        path = "\(BPFFS.defaultMountPoint)/bpfpipe-test-\(safe.prefix(40))-\(UUID().uuidString.prefix(8))"
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Every file under the folder, relative to it, sorted.
    func contents() -> [String] {
        guard let e = FileManager.default.enumerator(atPath: path) else { return [] }
        return (e.allObjects as? [String] ?? []).sorted()
    }
}

/// Number of open file descriptors of this process.
func openFileDescriptorCount() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
}

/// A packet big enough for any socket filter or XDP test run.
let testPacket = [UInt8](repeating: 0xab, count: 64)

extension Program {
    /// Test-runs instance `n` and returns its return value.
    func run(instance n: Int = 0, data: [UInt8] = testPacket) throws -> UInt32 {
        try BPFCommand.testRun(try fd(instance: n), data: data).get().returnValue
    }
}

/// Runs the built `bpfpipe` (beside the test bundle in .build/<config>/) and captures its output.
struct CLIResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

func runBPFPipe(_ arguments: [String]) throws -> CLIResult {
    let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    var binary = dir.appendingPathComponent("bpfpipe").path
    if !FileManager.default.isExecutableFile(atPath: binary) {
        // The bundle may sit one level deeper (e.g. *.xctest/...); walk up to find the binary.
        binary = dir.deletingLastPathComponent().appendingPathComponent("bpfpipe").path
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: binary)
    p.arguments = arguments
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return CLIResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}
