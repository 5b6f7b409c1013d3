import ArgumentParser
import BPFLoader
#if canImport(Glibc)
import Glibc
#endif

/// The documented exit codes, and how a loader error maps onto them.
enum ExitCodes {
    static let stepFailed = ExitCode(1)
    static let invalidInput = ExitCode(2)
    static let environment = ExitCode(3)

    /// Environment problems (permissions, no bpffs) get 3 so a CI step can tell them from a bad object.
    static func code(for error: LoaderError) -> ExitCode {
        // EPERM is the kernel saying "not allowed" (capabilities); the verifier's own refusals
        // come back as EACCES or EINVAL and are a failed step.
        if let e = error.errno, e == .operationNotPermitted { return environment }
        if error.message.contains("BPF filesystem") || error.message.contains("bpffs") { return environment }
        if error.step == .open { return invalidInput }
        return stepFailed
    }
}

/// Prints a loader error to stderr the same way from every subcommand and exits with its code.
func fail(_ error: Error) -> ExitCode {
    if let e = error as? LoaderError {
        printError("error: \(e)")
        return ExitCodes.code(for: e)
    }
    printError("error: \(error)")
    return ExitCodes.stepFailed
}

func printError(_ text: String) {
    // write(2) straight to fd 2: no buffering to lose on exit, no shared FILE* to guard.
    var line = text + "\n"
    line.withUTF8 { buf in
        var rest = UnsafeRawBufferPointer(buf)
        while !rest.isEmpty {
            let n = write(2, rest.baseAddress, rest.count)
            if n <= 0 { if n < 0 && errno == EINTR { continue }; return }
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
        }
    }
}
