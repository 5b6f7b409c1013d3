// A program whose return value is a marker constant a preprocessor replaces per instance.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#define MARKER 0x0badcafe

static __attribute__((noinline)) int add_len(struct __sk_buff *skb, int x) { return x + skb->len; }

SEC("socket") int which(struct __sk_buff *skb) { return MARKER; }

// With a subprogram, so that a prologue must keep call offsets and func_info right:
// returns the marker plus the packet length.
SEC("socket") int which_sub(struct __sk_buff *skb) { return add_len(skb, MARKER); }
