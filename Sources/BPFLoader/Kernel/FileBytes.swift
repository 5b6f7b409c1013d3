#if canImport(Glibc)
import Glibc
#endif

/// Reads a whole file with plain syscalls; the loader does not need Foundation for this.
enum FileBytes {
    static func read(path: String, step: Step) throws -> [UInt8] {
        let fd: Int32
        switch sysOpen(path, O_RDONLY | O_CLOEXEC) {
        case .success(let f): fd = f
        case .failure(let e): throw LoaderError(step, file: path, "cannot open", errno: e)
        }
        defer { sysClose(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { buf in
                retryingEINTR { Int32(truncatingIfNeeded: Glibc.read(fd, buf.baseAddress, buf.count)) }
            }
            switch n {
            case .success(0): return out
            case .success(let k): out.append(contentsOf: chunk[0..<Int(k)])
            case .failure(let e): throw LoaderError(step, file: path, "cannot read", errno: e)
            }
        }
    }
}
