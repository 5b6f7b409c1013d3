import ArgumentParser
import BPFLoader
#if canImport(Glibc)
import Glibc
#endif

/// The documented exit codes. Each error carries its class (`ExitClass`), set where it was made;
/// the code is read from it, never from the error's text.
enum ExitCodes {
    static let stepFailed = code(.stepFailed)
    static let invalidInput = code(.invalidInput)
    static let environment = code(.environment)

    static func code(_ c: ExitClass) -> ExitCode { ExitCode(c.rawValue) }

    /// The one mapping from any error to an exit code.
    static func code(for error: any Error) -> ExitCode { code(ExitClass.of(error)) }
}

/// Prints an error to stderr the same way from every subcommand and returns its exit code
/// (an `ExitCode` thrown below is passed on as it is: its message was printed already).
func fail(_ error: any Error) -> ExitCode {
    if let code = error as? ExitCode { return code }
    printError("error: \(error)")
    return ExitCodes.code(for: error)
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
