import CBPFSys
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// The one place that talks to the kernel directly. EINTR is retried here so no caller has to.

/// Runs a system call returning an int, retrying EINTR.
@inline(__always)
func retryingEINTR(_ body: () -> Int32) -> Result<Int32, Errno> {
    while true {
        let r = body()
        if r >= 0 { return .success(r) }
        let e = Errno.current
        if e == .interrupted { continue }
        return .failure(e)
    }
}

/// bpf(2) with the full size of `union bpf_attr`.
func sysBPF(_ cmd: bpf_cmd, _ attr: inout bpf_attr) -> Result<Int32, Errno> {
    retryingEINTR {
        cbpfsys_bpf(Int32(cmd.rawValue), &attr, cbpfsys_attr_size())
    }
}

func sysClose(_ fd: Int32) {
    // close(2) must not be retried on EINTR on Linux: the fd is already gone.
    _ = Glibc.close(fd)
}

func sysOpen(_ path: String, _ flags: Int32, _ mode: mode_t = 0) -> Result<Int32, Errno> {
    retryingEINTR { Glibc.open(path, flags, mode) }
}

func sysMkdir(_ path: String, _ mode: mode_t) -> Result<Void, Errno> {
    retryingEINTR { Glibc.mkdir(path, mode) }.map { _ in () }
}

func sysUnlink(_ path: String) -> Result<Void, Errno> {
    retryingEINTR { Glibc.unlink(path) }.map { _ in () }
}

func sysRmdir(_ path: String) -> Result<Void, Errno> {
    retryingEINTR { Glibc.rmdir(path) }.map { _ in () }
}

func sysRename(_ from: String, _ to: String) -> Result<Void, Errno> {
    retryingEINTR { Glibc.rename(from, to) }.map { _ in () }
}

func sysStatfsType(_ path: String) -> Result<Int, Errno> {
    var st = statfs()
    return retryingEINTR { statfs(path, &st) }.map { _ in Int(st.f_type) }
}

func sysMount(source: String, target: String, type: String) -> Result<Void, Errno> {
    retryingEINTR { Glibc.mount(source, target, type, 0, nil) }.map { _ in () }
}
