// One object using every loader feature that needs no kernel attach point; each socket program
// computes a value the tests (and bpftool prog run) check.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

// The legacy map definition libbpf 0.x used; bpfpipe still reads it, as cilium/ebpf does.
struct legacy_map_def {
    unsigned int type, key_size, value_size, max_entries, map_flags;
};
struct legacy_map_def legacy_counts SEC("maps") = {
    .type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 8, .max_entries = 4,
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __type(key, __u32);
    __type(value, __u64);
    __uint(max_entries, 16);
} btf_hash SEC(".maps");

int data_var = 7;
const volatile int ro_var = 5;
int bss_var;
int custom_data SEC(".data.custom") = 11;
const int custom_ro SEC(".rodata.custom") = 13;

static __attribute__((noinline)) int add_static(int a, int b) { return a + b + data_var - 7; }

__attribute__((noinline)) int mul_global(int a, int b) { return a * b; }

static long sum_cb(__u32 i, void *ctx) {
    int *sum = ctx;
    *sum += i;
    return 0;
}

SEC("socket") int test_legacy(struct __sk_buff *skb) {
    __u32 k = 1;
    __u64 v = 42;
    bpf_map_update_elem(&legacy_counts, &k, &v, BPF_ANY);
    __u64 *p = bpf_map_lookup_elem(&legacy_counts, &k);
    return p ? *p : 0;
}

SEC("socket") int test_btf_map(struct __sk_buff *skb) {
    __u32 k = 3;
    __u64 v = 1000;
    bpf_map_update_elem(&btf_hash, &k, &v, BPF_ANY);
    __u64 *p = bpf_map_lookup_elem(&btf_hash, &k);
    return p ? *p + 1 : 0;
}

SEC("socket") int test_globals(struct __sk_buff *skb) {
    bss_var += 3;
    return data_var + ro_var + bss_var + custom_data + custom_ro;
}

SEC("socket") int test_subprogs(struct __sk_buff *skb) {
    return add_static(2, 3) + mul_global(4, 5);
}

SEC("socket") int test_callback(struct __sk_buff *skb) {
    int sum = 0;
    bpf_loop(10, sum_cb, &sum, 0);
    return sum;
}
