/// A pipeline file that cannot be used as written: what is wrong, where (`file:line:col`) and,
/// when there is an obvious fix, what to write instead.
public struct PipelineError: Error, CustomStringConvertible, Sendable {
    /// Where in the file; nil when the problem is the file as a whole (cannot open it, say).
    public var mark: SourceMark?
    public var file: String
    public var message: String
    public var hint: String?

    public init(mark: SourceMark?, file: String, message: String, hint: String? = nil) {
        self.mark = mark
        self.file = file
        self.message = message
        self.hint = hint
    }

    /// An error pointing at a place in the file.
    public init(at mark: SourceMark, _ message: String, hint: String? = nil) {
        self.init(mark: mark, file: mark.file, message: message, hint: hint)
    }

    public var description: String {
        var s = mark.map { "\($0): " } ?? "\(file): "
        s += message
        if let hint { s += "\n  hint: \(hint)" }
        return s
    }
}
