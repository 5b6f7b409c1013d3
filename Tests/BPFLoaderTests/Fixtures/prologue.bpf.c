// A program with a subprogram whose result depends on what a prologue stored before the body:
// the entry passes skb->len to a subprogram that adds skb->cb[0]. A prologue that stores into
// cb[0] changes the result, and only if the call offset and func_info moved with the code does
// the kernel accept it.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

static __attribute__((noinline)) int add_arg(struct __sk_buff *skb, int x) { return x + skb->cb[0]; }

SEC("socket") int arg_sub(struct __sk_buff *skb) { return add_arg(skb, skb->len); }
