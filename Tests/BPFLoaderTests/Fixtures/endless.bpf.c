#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
// The verifier walks this loop until it gives up at a million instructions.
SEC("socket") int endless(struct __sk_buff *skb) {
    volatile __u64 i = 0, sum = 0;
    do { i++; sum += skb->len; } while (i < 0x100000000ULL);
    return sum;
}
