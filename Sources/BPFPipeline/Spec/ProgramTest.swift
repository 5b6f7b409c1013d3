/// One smoke test of a program (`test:` under a program): what to feed it with
/// `BPF_PROG_TEST_RUN`, and what it must return and leave in its maps. Tests run after load,
/// before the new deployment replaces the previous one; any failure fails the run.
public struct ProgramTest: Sendable {
    /// The packet (or other data) the program is run on.
    public enum Input: Sendable, Equatable {
        /// `data:` bytes written in hex.
        case bytes([UInt8])
        /// `data-file:` a file whose bytes are the data, relative to the pipeline file.
        case file(String)
        /// `data-size:` that many zero bytes.
        case zeros(Int)
    }

    /// One `KEY: VALUE` line of `expect-maps`: the bytes as written, in order (little-endian
    /// numbers are written low byte first). A nil value expects no entry for the key.
    public struct MapEntryExpectation: Sendable, Equatable {
        public var key: [UInt8]
        public var value: [UInt8]?
        public var keyMark: SourceMark
        public var valueMark: SourceMark
    }

    /// The entries one map must hold after the test ran.
    public struct MapExpectation: Sendable, Equatable {
        public var map: String
        public var entries: [MapEntryExpectation]
        /// The map name's place in the file.
        public var mark: SourceMark
    }

    /// The instance to run; nil runs every loaded instance (skipped ones are left out).
    public var instance: Int?
    public var input: Input
    /// r0 as the kernel reports it (32 bits); a negative number is written as such and compared
    /// as its 32-bit pattern. Nil when only maps are checked.
    public var expectReturn: Int64?
    /// How many times the kernel runs the program in a row (`repeat` of BPF_PROG_TEST_RUN).
    public var repeatCount: Int
    public var expectMaps: [MapExpectation]
    /// Where the test's list item starts.
    public var mark: SourceMark
    /// Where its input key (`data`, `data-file` or `data-size`) and `instance` were written.
    public var inputMark: SourceMark
    public var instanceMark: SourceMark?

    /// Beyond this many repetitions a test is refused: it would hold up the run for no gain.
    public static let maximumRepeat = 1_000_000
    /// The largest data a test may give (the kernel takes at most a page for most types).
    public static let maximumDataSize = 1 << 20
}
