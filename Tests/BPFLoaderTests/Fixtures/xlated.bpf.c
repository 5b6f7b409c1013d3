// A small program the kernel accepts, for comparing `bpfpipe dump --xlated` with bpftool: a map
// lookup (map[id:N]), a read-only global (map[id:N][0]+OFF), helper and subprogram calls.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, __u64);
} seen SEC(".maps");

const volatile __u32 scale = 3;

static __noinline int weigh(int len)
{
    return len * scale + 1;
}

SEC("socket")
int xlated_prog(struct __sk_buff *skb)
{
    __u32 key = skb->len & 1;
    __u64 *v = bpf_map_lookup_elem(&seen, &key);
    if (v)
        __sync_fetch_and_add(v, bpf_ktime_get_ns() & 1);
    if (skb->len > 100)
        return weigh(skb->len);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
