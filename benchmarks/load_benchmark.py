#!/usr/bin/env python3
"""Load-time and memory benchmark: bpfpipe against bpftool, measured in the same run.

Generates an object with 64 socket-filter programs of roughly 590 instructions each (the
reference workload in shared/README.md), then loads and pins it repeatedly with
`bpfpipe load` and `bpftool prog loadall ... pinmaps`, printing medians, peak memory and the
ratios. Also times process start (`--help`) for both. Prints figures; asserts nothing.

    benchmarks/load_benchmark.py [--runs 9] [--bpfpipe .build/release/bpfpipe]
"""
import argparse, os, resource, shutil, statistics, subprocess, sys, tempfile, time

PROGRAMS = 64

def source():
    # Each program folds the packet's bytes through a chain of arithmetic the compiler cannot
    # collapse (it depends on loads), about 590 instructions once compiled.
    body = "\n".join(
        f"    acc = acc * 31 + load_byte(skb, {i % 60}) + {i};" for i in range(140))
    progs = "\n".join(
        f'SEC("socket") int prog_{n}(struct __sk_buff *skb) {{\n    __u64 acc = {n};\n{body}\n    return acc & 0xffff;\n}}\n'
        for n in range(PROGRAMS))
    return f'''#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
struct {{ __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, __u64); __uint(max_entries, 1); }} counts SEC(".maps");
{progs}'''

def timed(cmd):
    """Wall seconds and the child's peak RSS in MiB."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"benchmark: {' '.join(cmd)} failed: {proc.stderr.strip()[:400]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024.0

def peak_rss(cmd):
    """Peak RSS of one run via GNU time (RUSAGE_CHILDREN only ever grows)."""
    out = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    return int(out.stderr.strip().splitlines()[-1]) / 1024.0

def measure(name, make_cmd, runs, cleanup):
    walls, peaks = [], []
    for i in range(runs):
        cmd = make_cmd(i)
        wall, _ = timed(cmd)
        cleanup(i)
        walls.append(wall)
        peaks.append(peak_rss(make_cmd(i)))
        cleanup(i)
    return {"name": name, "median_ms": statistics.median(walls) * 1000, "min_ms": min(walls) * 1000,
            "peak_mib": max(peaks)}

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=9)
    default = ".build/release/bpfpipe" if os.path.exists(".build/release/bpfpipe") else ".build/debug/bpfpipe"
    ap.add_argument("--bpfpipe", default=default)
    ap.add_argument("--bpftool", default=shutil.which("bpftool") or "/usr/sbin/bpftool")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("benchmark: needs root (bpf())")
    work = tempfile.mkdtemp(prefix="bpfpipe-bench-")
    src, obj = os.path.join(work, "bench.bpf.c"), os.path.join(work, "bench.bpf.o")
    open(src, "w").write(source())
    arch = os.uname().machine
    subprocess.run(["clang", "-O2", "-g", "-target", "bpf", f"-I/usr/include/{arch}-linux-gnu", "-c", src, "-o", obj], check=True)
    insns = subprocess.run([args.bpfpipe, "inspect", obj], capture_output=True, text=True).stdout
    root = "/sys/fs/bpf"
    pin = lambda tool, i: f"{root}/bpfpipe-bench-{os.getpid()}-{tool}-{i}"
    def cleanup_for(tool):
        return lambda i: shutil.rmtree(pin(tool, i), ignore_errors=True)

    results = [
        measure("bpfpipe load", lambda i: [args.bpfpipe, "load", obj, "--pin", pin("p", i), "--pin-maps-by-name", pin("p", i)],
                args.runs, cleanup_for("p")),
        measure("bpftool prog loadall", lambda i: [args.bpftool, "prog", "loadall", obj, pin("t", i), "pinmaps", pin("t", i) + "m"],
                args.runs, lambda i: (cleanup_for("t")(i), shutil.rmtree(pin("t", i) + "m", ignore_errors=True))),
        measure("bpfpipe start (--help)", lambda i: [args.bpfpipe, "--help"], args.runs, lambda i: None),
        measure("bpftool start (version)", lambda i: [args.bpftool, "version"], args.runs, lambda i: None),
    ]
    shutil.rmtree(work, ignore_errors=True)
    sizes = [l for l in insns.splitlines() if "instructions" in l]
    print(f"object: {PROGRAMS} socket filters, {sizes[0].split(',')[-1].strip() if sizes else '?'} each; {args.runs} runs; bpfpipe = {args.bpfpipe}")
    print(f"{'what':28} {'median ms':>10} {'min ms':>8} {'peak MiB':>9}")
    for r in results:
        print(f"{r['name']:28} {r['median_ms']:10.1f} {r['min_ms']:8.1f} {r['peak_mib']:9.1f}")
    ratio = lambda a, b: results[a]["median_ms"] / results[b]["median_ms"]
    print(f"load time ratio bpfpipe/bpftool: {ratio(0, 1):.2f}; peak memory ratio: {results[0]['peak_mib'] / results[1]['peak_mib']:.2f}")
    print(f"start time ratio bpfpipe/bpftool: {ratio(2, 3):.2f}")

if __name__ == "__main__":
    main()
