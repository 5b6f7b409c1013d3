#if canImport(Glibc)
import Glibc
#endif

/// Reads a pipeline file whole with plain syscalls (no Foundation in the library).
enum PipelineFileReader {
    /// Larger than this is not a pipeline file someone wrote; refuse rather than parse it.
    static let maximumSize = 4 << 20

    static func read(path: String) throws -> [UInt8] {
        var fd: Int32
        repeat { fd = open(path, O_RDONLY | O_CLOEXEC) } while fd < 0 && errno == EINTR
        guard fd >= 0 else { throw failure("cannot open the pipeline file", path: path) }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("cannot read the pipeline file", path: path)
            }
            if n == 0 { return out }
            out.append(contentsOf: chunk[0..<n])
            guard out.count <= maximumSize else {
                throw PipelineError(mark: nil, file: path, message: "file is larger than \(maximumSize >> 20) MiB; not a pipeline file?")
            }
        }
    }

    private static func failure(_ what: String, path: String) -> PipelineError {
        let code = errno
        let reason = strerror(code).map { String(cString: $0) } ?? "errno \(code)"
        return PipelineError(mark: nil, file: path, message: "\(what): \(reason)")
    }
}
