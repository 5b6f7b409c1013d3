import Foundation
import Testing
@testable import BPFLoader
@_exported import BPFTestSupport

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
        let r = try runProcess("/usr/bin/env", ["clang", "-O2", "-g", "-target", "bpf", "-I/usr/include/\(machine())-linux-gnu", "-c", source, "-o", output] + flags)
        if r.status != 0 {
            throw FixtureError(message: "clang failed on \(source): \(r.stderr)")
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

/// A packet big enough for any socket filter or XDP test run.
let testPacket = [UInt8](repeating: 0xab, count: 64)

extension Program {
    /// Test-runs instance `n` and returns its return value.
    func run(instance n: Int = 0, data: [UInt8] = testPacket) throws -> UInt32 {
        try BPFCommand.testRun(try fd(instance: n), data: data).get().returnValue
    }
}
