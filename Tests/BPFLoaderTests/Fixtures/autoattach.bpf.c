// For `bpfpipe load --attach`: two programs whose sections name their targets, one that names
// none (loaded and pinned, never attached). -DWITH_MISSING_TP adds, last, a tracepoint this
// kernel does not have, so the attach fails after the first links were made; its programs then
// carry an `rb_` prefix so a test can look for them in the kernel by name.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#ifdef WITH_MISSING_TP
#define NAME(x) rb_##x
#else
#define NAME(x) x
#endif

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, __u64);
} counts SEC(".maps");

static __always_inline void bump(__u32 slot) {
    __u64 *v = bpf_map_lookup_elem(&counts, &slot);
    if (v) __sync_fetch_and_add(v, 1);
}

SEC("tp/syscalls/sys_enter_getpid") int NAME(cnt_getpid)(void *ctx) { bump(0); return 0; }
SEC("raw_tp/sched_switch") int NAME(cnt_switch)(void *ctx) { bump(1); return 0; }
SEC("xdp") int NAME(not_attached)(struct xdp_md *ctx) { return XDP_PASS; }

#ifdef WITH_MISSING_TP
SEC("tp/syscalls/sys_enter_no_such_call") int rb_missing(void *ctx) { return 0; }
#endif
