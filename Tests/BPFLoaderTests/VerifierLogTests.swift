import Glibc
import Testing
@testable import BPFLoader

/// A refused load costs two verifications at most and keeps the log's tail, the part that says
/// why: since Linux 6.4 a full log buffer rotates instead of failing, so growing it is wasted work.
@Suite(.enabled(if: KernelGate.enabled, "needs bpf() as root"), .kernel)
struct VerifierLogTests {
    @Test func aProgramTheVerifierGivesUpOnIsRefusedWithTheLogsTailAndTheRealErrno() throws {
        let object = try BPFObject.open(path: try Fixtures.object("endless"))
        let error = try #require(throws: LoaderError.self) { try object.load() }
        // The verifier's own errno for "too complex", not the ENOSPC of a cut-off log.
        #expect(error.errno == Errno(rawValue: E2BIG))
        let log = try #require(error.verifierLog)
        #expect(log.utf8.count <= ProgramLoadRequest.keptLogBytes, "only the tail is kept: \(log.utf8.count) bytes")
        let last = log.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.hasPrefix("processed 1000001 insns (limit 1000000)"), "the log ends where the verifier stopped: \(last)")
        #expect(log.contains("BPF program is too large"))
    }

    @Test func theTailOfALogStartsAtALine() {
        let long = (0..<20_000).map { "line \($0) of the verifier's states" }.joined(separator: "\n")
        let tail = ProgramLoadRequest.tail(long, truncated: false)
        #expect(tail.utf8.count <= ProgramLoadRequest.keptLogBytes)
        #expect(tail.hasSuffix("line 19999 of the verifier's states"))
        #expect(tail.hasPrefix("line "))
        #expect(ProgramLoadRequest.tail("ial line\nfull line\n", truncated: true) == "full line\n")
        #expect(ProgramLoadRequest.tail("short log\n", truncated: false) == "short log\n")
    }
}
