/// What one `BPF_PROG_TEST_RUN` of an instance gave back.
public struct TestRunOutcome: Sendable, Equatable {
    /// The program's return value (r0), as the kernel reports it: 32 bits.
    public var returnValue: UInt32
    /// The packet after the run, for program types that may change it.
    public var dataOut: [UInt8]
    /// The kernel's own measure: mean time of one repetition, in nanoseconds.
    public var averageNanoseconds: UInt32
}

extension Program {
    /// Runs loaded instance `n` on `data`, `count` times in a row, in the kernel
    /// (`BPF_PROG_TEST_RUN`, what `bpftool prog run` does). Maps the program writes keep what the
    /// runs wrote. A refusal is a `LoaderError(.test, ...)` naming the program and instance, with
    /// a hint for the usual causes (a type without test-run support, data too short).
    public func testRun(instance n: Int, data: [UInt8], repeat count: UInt32 = 1) throws -> TestRunOutcome {
        let fd = try fd(instance: n)
        let location = "program '\(name)'" + (instances.count > 1 ? " instance \(n)" : "")
        switch BPFCommand.testRun(fd, data: data, repeat: count) {
        case .success(let r):
            return TestRunOutcome(returnValue: r.returnValue, dataOut: r.dataOut, averageNanoseconds: r.duration)
        case .failure(let e):
            throw LoaderError(.test, file: objectPath, at: location, "the kernel refused to test-run it (\(data.count) bytes of data)",
                              errno: e, hint: Self.testRunHint(e, kind: kind, dataSize: data.count))
        }
    }

    /// Why a test run is usually refused, by errno.
    private static func testRunHint(_ e: Errno, kind: ProgramKind?, dataSize: Int) -> String? {
        let type = kind?.typeName ?? "this"
        switch e.rawValue {
        // The kernel's internal ENOTSUPP (524): the program type has no test_run operation.
        case 524, Errno.notSupported.rawValue:
            return "\(type) programs cannot be test-run by this kernel (no BPF_PROG_TEST_RUN support for the type); remove the test"
        case Errno.invalidArgument.rawValue:
            return dataSize < 14
                ? "packet programs need at least an Ethernet header (14 bytes) of data; give 'data', 'data-file' or 'data-size: 64'"
                : "the kernel refused the data or context for a \(type) program; check the data size (at most a page for packets)"
        default:
            return nil
        }
    }
}
