// One counter per attach kind: a test attaches a program, triggers its event, and reads the
// counter to prove the program ran. Sections name their targets where libbpf's syntax can.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

enum { TP, RAW_TP, TP_BTF, UPROBE, URETPROBE, XDP1, XDP2, TCX, CGROUP_SOCK, KPROBE, SLOTS };

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, SLOTS);
    __type(key, __u32);
    __type(value, __u64);
} counts SEC(".maps");

static __always_inline void bump(__u32 slot) {
    __u64 *v = bpf_map_lookup_elem(&counts, &slot);
    if (v) __sync_fetch_and_add(v, 1);
}

SEC("tp/syscalls/sys_enter_getpid") int on_getpid(void *ctx) { bump(TP); return 0; }
SEC("raw_tp/sched_switch") int on_switch_raw(void *ctx) { bump(RAW_TP); return 0; }
SEC("tp_btf/sched_switch") int on_switch_btf(void *ctx) { bump(TP_BTF); return 0; }
SEC("uprobe") int on_call(void *ctx) { bump(UPROBE); return 0; }
SEC("uretprobe") int on_return(void *ctx) { bump(URETPROBE); return 0; }
SEC("xdp") int count_xdp(struct xdp_md *ctx) { bump(XDP1); return XDP_PASS; }
SEC("xdp") int count_xdp2(struct xdp_md *ctx) { bump(XDP2); return XDP_PASS; }
// TC_ACT_UNSPEC (-1): let the packet go on as if no program were there.
SEC("tc") int count_tc(struct __sk_buff *skb) { bump(TCX); return -1; }
SEC("cgroup/sock_create") int on_sock_create(struct bpf_sock *sk) { bump(CGROUP_SOCK); return 1; }
SEC("kprobe/do_nanosleep") int on_kprobe(void *ctx) { bump(KPROBE); return 0; }
