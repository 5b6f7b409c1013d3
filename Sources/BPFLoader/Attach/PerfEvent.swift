import CBPFSys
#if canImport(Glibc)
import Glibc
#endif

/// perf_event_open(2) for the events a BPF program attaches to through a perf link: uprobes and
/// kprobes (dynamic PMUs whose type number is in sysfs) and tracepoints (PERF_TYPE_TRACEPOINT).
enum PerfEvent {
    static let pmuDirectory = "/sys/bus/event_source/devices"

    /// The dynamic PMU type of `pmu` ("uprobe", "kprobe"), or nil when this kernel has none.
    static func pmuType(_ pmu: String) -> UInt32? {
        guard let text = try? readSmallFile("\(pmuDirectory)/\(pmu)/type") else { return nil }
        return UInt32(text)
    }

    /// The config bit that makes a uprobe/kprobe PMU event a return probe, from
    /// `format/retprobe` ("config:0"); nil when the PMU does not say.
    static func returnProbeBit(_ pmu: String) -> UInt64? {
        guard let text = try? readSmallFile("\(pmuDirectory)/\(pmu)/format/retprobe"),
              text.hasPrefix("config:"), let bit = UInt64(text.dropFirst("config:".count)), bit < 64 else { return nil }
        return bit
    }

    /// Opens a probe event on `path` at file offset `offset` through the `pmu` PMU
    /// (config1 = path, config2 = offset, as the uprobe and kprobe PMUs read them).
    /// `pid` nil: every process, which perf expresses as pid -1 on one cpu.
    static func openProbe(type: UInt32, config: UInt64, path: String, offset: UInt64, pid: Int32?) -> Result<FileDescriptor, Errno> {
        path.withCString { p in
            var attr = perf_event_attr()
            attr.size = UInt32(MemoryLayout<perf_event_attr>.size)
            attr.type = type
            attr.config = config
            attr.config1 = UInt64(UInt(bitPattern: p))
            attr.config2 = offset
            return open(&attr, pid: pid)
        }
    }

    /// Opens tracepoint `id` (from tracefs) for every process.
    static func openTracepoint(id: UInt64) -> Result<FileDescriptor, Errno> {
        var attr = perf_event_attr()
        attr.size = UInt32(MemoryLayout<perf_event_attr>.size)
        attr.type = PERF_TYPE_TRACEPOINT.rawValue
        attr.config = id
        return open(&attr, pid: nil)
    }

    private static func open(_ attr: inout perf_event_attr, pid: Int32?) -> Result<FileDescriptor, Errno> {
        // One process on any cpu, or every process on cpu 0: a BPF program attached to a
        // trace/probe event runs on every cpu either way (it hangs off the event, not the cpu).
        let (p, cpu): (Int32, Int32) = if let pid, pid > 0 { (pid, -1) } else { (-1, 0) }
        return retryingEINTR {
            cbpfsys_perf_event_open(&attr, p, cpu, -1, UInt(PERF_FLAG_FD_CLOEXEC))
        }.map(FileDescriptor.init(adopting:))
    }

    /// A short sysfs/tracefs file's contents without the trailing newline.
    static func readSmallFile(_ path: String) throws -> String {
        let bytes = try FileBytes.read(path: path, step: .attach)
        var text = String(decoding: bytes, as: UTF8.self)
        while text.last == "\n" || text.last == " " { text.removeLast() }
        return text
    }
}
