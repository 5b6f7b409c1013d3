#if canImport(Glibc)
import Glibc
#endif

/// The running kernel's BTF: vmlinux, and module BTF (split BTF on top of vmlinux), each read and
/// indexed once per process. Swift runs a `static let` initialiser exactly once, under a lock, on
/// first use, so concurrent relocations share one parse and objects without CO-RE never pay for it.
enum KernelBTF {
    static let directory = "/sys/kernel/btf"
    static let vmlinuxPath = directory + "/vmlinux"

    private static let sharedVmlinux: Result<BTFTable, LoaderError> = {
        do {
            let bytes = try readWhole(vmlinuxPath)
            return .success(try BTFTable(bytes: bytes, label: "vmlinux"))
        } catch let error as LoaderError {
            return .failure(error)
        } catch {
            return .failure(LoaderError(.relocate, file: vmlinuxPath, "\(error)"))
        }
    }()

    /// Every module's BTF; a module whose BTF cannot be read is left out (it may be unloading).
    private static let sharedModules: [BTFTable] = {
        guard case .success(let vmlinux) = sharedVmlinux else { return [] }
        return moduleNames().compactMap { name in
            let path = "\(directory)/\(name)"
            guard let bytes = try? readWhole(path) else { return nil }
            return try? BTFTable(bytes: bytes, label: name, base: vmlinux)
        }
    }()

    /// vmlinux BTF, parsed on first use; throws when the kernel has none (CONFIG_DEBUG_INFO_BTF off).
    static func vmlinux() throws -> BTFTable {
        do {
            return try sharedVmlinux.get()
        } catch {
            throw LoaderError(.relocate, file: vmlinuxPath, "cannot read the kernel's BTF, which CO-RE relocations are resolved against: \(error.message)",
                              hint: "the kernel needs CONFIG_DEBUG_INFO_BTF=y; or give the loader a target BTF file")
        }
    }

    static func modules() -> [BTFTable] { sharedModules }

    /// Reads a sysfs BTF file in one allocation: sysfs reports these files' real sizes, which
    /// saves half of the time a chunked read takes on a 5 MB vmlinux. Reads on past that size
    /// in case a file grows.
    static func readWhole(_ path: String) throws -> [UInt8] {
        let fd: Int32
        switch sysOpen(path, O_RDONLY | O_CLOEXEC) {
        case .success(let f): fd = f
        case .failure(let e): throw LoaderError(.relocate, file: path, "cannot open", errno: e)
        }
        defer { sysClose(fd) }
        var st = stat()
        let size = fstat(fd, &st) == 0 ? max(Int(st.st_size), 0) : 0
        var bytes = [UInt8](repeating: 0, count: size + 4096)
        var filled = 0
        while true {
            if filled == bytes.count { bytes.append(contentsOf: repeatElement(0, count: bytes.count)) }
            let n = bytes.withUnsafeMutableBytes { buf in
                retryingEINTR { Int32(truncatingIfNeeded: Glibc.read(fd, buf.baseAddress! + filled, buf.count - filled)) }
            }
            switch n {
            case .success(0):
                bytes.removeLast(bytes.count - filled)
                return bytes
            case .success(let k): filled += Int(k)
            case .failure(let e): throw LoaderError(.relocate, file: path, "cannot read", errno: e)
            }
        }
    }

    private static func moduleNames() -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "vmlinux" && !name.hasPrefix(".") { names.append(name) }
        }
        return names.sorted()
    }
}
