// ONE program, loaded as several instances by pipelines/probe-args.yaml: each instance is
// attached as a uprobe to a different function of victim.c, and the fetch-args stage gives each
// its own prologue, which fetches that function's interesting argument into r3 (a1). Without
// the prologue only r1 is set at entry and the verifier refuses to read err or a1.
#include <linux/bpf.h>
#include <asm/ptrace.h>   // struct pt_regs (x86_64 layout for -target bpf); the body never reads it
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";   // bpf_probe_read_user is GPL-only

#define SLOTS 8

// Set per instance by the set-global stage: where this instance records.
const volatile __u32 slot = 0;

struct record {
    __s64 a1;      // the argument the instance's prologue fetched
    __s64 err;     // 1 if the prologue could not read it (a bad pointer), else 0
    __u64 calls;   // how many times the probed function ran
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, __u32);
    __type(value, struct record);
    __uint(max_entries, SLOTS);
} recorded SEC(".maps");

// r2..r5 are err, a1, a2, a3: what perf's prologue (and fetch-args) put there.
SEC("uprobe") int record(struct pt_regs *ctx, long err, long a1, long a2, long a3)
{
    __u32 k = slot % SLOTS;
    struct record *r = bpf_map_lookup_elem(&recorded, &k);
    if (!r)
        return 0;
    r->a1 = a1;
    r->err = err;
    __sync_fetch_and_add(&r->calls, 1);
    return 0;
}
