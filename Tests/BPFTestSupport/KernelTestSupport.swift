import Foundation
import Testing
import BPFLoader

/// Gates kernel tests on a capability probe. CI sets BPFPIPE_REQUIRE_KERNEL=1, which makes the
/// tests run (and fail loudly) where the probe fails, instead of skipping silently.
public enum KernelGate {
    public static let probe: Bool = {
        // A tiny array map: possible only with bpf() allowed and the right capabilities.
        KernelProbe.canCreateMaps()
    }()
    public static let required = ProcessInfo.processInfo.environment["BPFPIPE_REQUIRE_KERNEL"] == "1"
    public static let enabled = probe || required

    /// The kernel's own BTF, which CO-RE, externs, attach targets and struct_ops need.
    public static let kernelBTFPath = "/sys/kernel/btf/vmlinux"
    public static let hasKernelBTF = FileManager.default.fileExists(atPath: kernelBTFPath)
    /// For suites that need bpf() and kernel BTF. Like `enabled`, BPFPIPE_REQUIRE_KERNEL=1 makes
    /// them run, and so fail, where either is missing, instead of skipping.
    public static let enabledWithKernelBTF = enabled(probe: probe, kernelBTF: hasKernelBTF, required: required, needsBPF: true)
    /// For suites that read kernel BTF but make no bpf() call.
    public static let kernelBTFEnabled = enabled(probe: probe, kernelBTF: hasKernelBTF, required: required, needsBPF: false)

    /// The rule, apart from this machine, so that a test can check it.
    public static func enabled(probe: Bool, kernelBTF: Bool, required: Bool, needsBPF: Bool) -> Bool {
        required || (kernelBTF && (probe || !needsBPF))
    }
}

/// Kernel tests run in parallel; a test that counts this process's open fds must run alone.
/// Every kernel test holds this lock shared, the fd-counting ones exclusively.
public actor DescriptorLock {
    public static let shared = DescriptorLock()
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
public struct KernelTrait: TestTrait, SuiteTrait, TestScoping {
    var countingDescriptors = false
    // Applied to a suite, the lock is held once around the whole suite.
    public var isRecursive: Bool { false }

    public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
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
    public static var kernel: KernelTrait { KernelTrait() }
    public static func kernel(countingDescriptors: Bool) -> KernelTrait { KernelTrait(countingDescriptors: countingDescriptors) }
}

/// A fresh folder under /sys/fs/bpf for one test's pins, removed (with everything in it) at the end.
public final class PinDirectory {
    public let path: String
    public init(_ label: String = #function) throws {
        try BPFFS.prepare(BPFFS.defaultMountPoint)
        let safe = label.filter { $0.isLetter || $0.isNumber }
        path = "\(BPFFS.defaultMountPoint)/bpfpipe-test-\(safe.prefix(40))-\(UUID().uuidString.prefix(8))"
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Every file under the folder, relative to it, sorted.
    public func contents() -> [String] {
        guard let e = FileManager.default.enumerator(atPath: path) else { return [] }
        return (e.allObjects as? [String] ?? []).sorted()
    }
}

/// Number of open file descriptors of this process.
/// Number of this process's open fds that hold kernel BPF objects (maps, programs, BTF, links):
/// what a leak in the loader would leave behind. Other fds come and go with tests that run
/// alongside (pipes to clang, files), so they are not counted.
/// Throws when /proc/self/fd cannot be read: a count that cannot be taken must fail the
/// comparison, not make every "no fd leaked" check pass.
public func openFileDescriptorCount(in folder: String = "/proc/self/fd") throws -> Int {
    let fds: [String]
    do {
        fds = try FileManager.default.contentsOfDirectory(atPath: folder)
    } catch {
        throw FixtureFailure("cannot count open descriptors: \(folder) is not readable (\(error))")
    }
    return fds.filter { fd in
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(folder)/\(fd)") else { return false }
        return target.hasPrefix("anon_inode:bpf") || target.hasPrefix("anon_inode:btf")
    }.count
}

