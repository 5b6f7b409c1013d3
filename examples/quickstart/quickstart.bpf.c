// The README's first example: a socket filter that counts packets in a BTF map and a global,
// and returns the packet count so far.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, __u32);
    __type(value, __u64);
    __uint(max_entries, 1);
} packets SEC(".maps");

__u64 bytes_seen;

SEC("socket") int count_and_return(struct __sk_buff *skb) {
    __u32 zero = 0;
    __u64 *n = bpf_map_lookup_elem(&packets, &zero);
    if (!n)
        return 0;
    __sync_fetch_and_add(n, 1);
    bytes_seen += skb->len;
    return *n;
}
