// P4: how long bpfpipe's BTF parser takes on the kernel's BTF, timed inside the process like
// benchmarks/btf_parse.c times libbpf's btf__parse. A benchmark-only executable, kept out of the
// CLI; `swift build -c release --product btf-bench`, driven by benchmarks/run.
//   btf-bench [/sys/kernel/btf/vmlinux] [repeats]   -> one "<ms> <types>" line per parse
import BPFLoader
#if canImport(Glibc)
import Glibc
#endif

func nowMs() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) * 1e3 + Double(ts.tv_nsec) / 1e6
}

let args = CommandLine.arguments
let path = args.count > 1 ? args[1] : "/sys/kernel/btf/vmlinux"
let repeats = args.count > 2 ? Int(args[2]) ?? 5 : 5
for _ in 0..<repeats {
    let start = nowMs()
    do {
        let types = try BTFParsing.parseFile(path)
        print("\(nowMs() - start) \(types)")
    } catch {
        print("btf-bench: \(error)")
        exit(1)
    }
}
