/// Whose fault a failure is, which decides the CLI's exit code: 1 a step failed (the object, the
/// verifier, a test), 2 the input is invalid (a file that cannot be opened or parsed), 3 the
/// environment (permissions, no bpffs, a deployment held by another run). CI tells them apart.
public enum ExitClass: Int32, Sendable, Codable, CaseIterable {
    case stepFailed = 1
    case invalidInput = 2
    case environment = 3

    /// The class of any error: its own when it carries one, else a failed step.
    public static func of(_ error: any Error) -> ExitClass {
        (error as? any ExitClassified)?.exitClass ?? .stepFailed
    }

    /// What an error made without saying otherwise gets: EPERM is the kernel saying "not allowed"
    /// (capabilities) — the verifier's own refusals come back as EACCES or EINVAL and are a failed
    /// step; an object that cannot be opened is bad input.
    static func `default`(step: Step, errno: Errno?) -> ExitClass {
        if errno == .operationNotPermitted { return .environment }
        if step == .open { return .invalidInput }
        return .stepFailed
    }
}

/// An error that knows which exit class it belongs to; every error type that reaches the CLI
/// conforms, so the CLI maps them all through `ExitClass.of`.
public protocol ExitClassified: Error {
    var exitClass: ExitClass { get }
}

/// A bare errno that reaches the CLI (a system call below any step): EPERM is the environment.
extension Errno: ExitClassified {
    public var exitClass: ExitClass { self == .operationNotPermitted ? .environment : .stepFailed }
}
