// Map-in-map and program-array initial values, filled by the loader from `.maps` relocations.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct inner {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, __u32);
    __type(value, __u32);
    __uint(max_entries, 1);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
    __uint(max_entries, 2);
    __type(key, __u32);
    __array(values, struct inner);
} outer SEC(".maps") = {
    .values = { &inner_a, &inner_b },
};

SEC("socket") int tail_target(struct __sk_buff *skb) { return 99; }

struct {
    __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
    __uint(max_entries, 2);
    __uint(key_size, sizeof(__u32));
    __array(values, int (void *));
} jumps SEC(".maps") = {
    .values = { [1] = (void *)&tail_target },
};

// Writes 77 into slot 0 of the second inner map, reached through the outer map.
SEC("socket") int test_map_in_map(struct __sk_buff *skb) {
    __u32 k = 1, zero = 0, v = 77;
    void *inner = bpf_map_lookup_elem(&outer, &k);
    if (!inner)
        return 0;
    bpf_map_update_elem(inner, &zero, &v, BPF_ANY);
    return 77;
}

SEC("socket") int test_tail_call(struct __sk_buff *skb) {
    bpf_tail_call(skb, &jumps, 1);
    return 1;
}
