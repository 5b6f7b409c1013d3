// Socket filters for the bundled pipelines. Each returns something that says which instance ran.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#ifndef SLOTS
#define SLOTS 4
#endif

// Set per instance by the set-global stage: each instance counts into its own slot.
const volatile __u32 slot = 0;

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, __u32);
    __type(value, __u64);
    __uint(max_entries, SLOTS);
} hits SEC(".maps");

// Counts the packet in its slot and returns the slot.
SEC("socket") int count_pkts(struct __sk_buff *skb) {
    __u32 k = slot % SLOTS;
    __u64 *v = bpf_map_lookup_elem(&hits, &k);
    if (v)
        __sync_fetch_and_add(v, 1);
    return slot;
}

// Returns a marker constant that patch-imm or a plugin replaces per instance.
SEC("socket") int tagged(struct __sk_buff *skb) { return 0x0badcafe; }

// Returns the argument a prologue left in skb->cb[0], plus one.
SEC("socket") int with_arg(struct __sk_buff *skb) { return skb->cb[0] + 1; }
