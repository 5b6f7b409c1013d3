/// The pipeline step an error or a record belongs to; the order is the order data flows in.
public enum Step: String, Sendable, CaseIterable, Codable {
    case build, open, relocate, preprocess, load, pin, test, attach
}

/// An error that knows the errno behind it (a kernel refusal, a failed system call), so that a
/// layer wrapping it in its own words can keep the number: a preprocessor's error keeps its
/// errno in the preprocess step's error.
public protocol ErrnoCarrying: Error {
    var carriedErrno: Errno? { get }
}

/// An error from any step, saying what went wrong, where (file, section, program, instance,
/// instruction), and what the kernel said when it was the kernel that refused.
///
/// `location` is words for people; the same facts are also kept as values (`object`, `program`,
/// `instance`, `test`, `exitClass`) so that exit codes and log records never parse the text.
public struct LoaderError: Error, CustomStringConvertible, Sendable {
    public var step: Step
    public var file: String?
    /// Section, program, instance or instruction, in words a user can find in the source.
    public var location: String?
    public var message: String
    public var errno: Errno?
    public var verifierLog: String?
    /// What to do about it, when there is something obvious.
    public var hint: String?
    /// The pipeline's name for the object (set by the runner; the file is often a cache path).
    public var object: String?
    /// The program and instance the error is about, when it is about one.
    public var program: String?
    public var instance: Int?
    /// The index of the failing test of the program (test step).
    public var test: Int?
    /// Whose fault it is, for the exit code: set where the error is made.
    public var exitClass: ExitClass

    public init(_ step: Step, file: String? = nil, at location: String? = nil, _ message: String,
                errno: Errno? = nil, verifierLog: String? = nil, hint: String? = nil,
                object: String? = nil, program: String? = nil, instance: Int? = nil, test: Int? = nil,
                exitClass: ExitClass? = nil) {
        self.step = step
        self.file = file
        self.location = location
        self.message = message
        self.errno = errno
        self.verifierLog = verifierLog
        self.hint = hint
        self.object = object
        self.program = program
        self.instance = instance
        self.test = test
        self.exitClass = exitClass ?? ExitClass.default(step: step, errno: errno)
    }

    public var description: String {
        var s = ""
        if let file { s += "\(file): " }
        s += "\(step.rawValue): "
        if let location { s += "\(location): " }
        s += message
        if let errno { s += " (\(errno))" }
        if let hint { s += "\n  hint: \(hint)" }
        if let log = verifierLog, !log.isEmpty {
            let lines = log.split(separator: "\n", omittingEmptySubsequences: true)
            s += "\n  verifier log (last \(min(lines.count, 12)) of \(lines.count) lines):"
            for line in lines.suffix(12) { s += "\n    \(line)" }
        }
        return s
    }

    /// The same error with a file name filled in, for errors raised below the level that knows it.
    func inFile(_ path: String) -> LoaderError {
        var e = self
        if e.file == nil { e.file = path }
        return e
    }

    /// The same error with the program (and instance) it is about filled in where not yet known.
    public func about(program: String, instance: Int? = nil) -> LoaderError {
        var e = self
        if e.program == nil { e.program = program }
        if e.instance == nil { e.instance = instance }
        return e
    }
}

extension LoaderError: ExitClassified {}

extension LoaderError: ErrnoCarrying {
    public var carriedErrno: Errno? { errno }
}

extension Errno: ErrnoCarrying {
    public var carriedErrno: Errno? { self }
}
