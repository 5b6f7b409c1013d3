// A map pinned by name (libbpf's LIBBPF_PIN_BY_NAME), shared between loads of the object.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#ifndef SHARED_ENTRIES
#define SHARED_ENTRIES 8
#endif

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, __u32);
    __type(value, __u64);
    __uint(max_entries, SHARED_ENTRIES);
    __uint(pinning, LIBBPF_PIN_BY_NAME);
} shared_counts SEC(".maps");

// Adds one to slot 0 and returns the new count.
SEC("socket") int bump(struct __sk_buff *skb) {
    __u32 k = 0;
    __u64 *v = bpf_map_lookup_elem(&shared_counts, &k);
    if (!v)
        return 0;
    *v += 1;
    return *v;
}
