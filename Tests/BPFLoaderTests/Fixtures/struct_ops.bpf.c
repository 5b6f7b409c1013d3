// A minimal TCP congestion control as a struct_ops map. -DLINK puts it in .struct_ops.link
// (registered through a link, so loading only stores it); -DINCOMPLETE leaves out cong_avoid,
// which the kernel requires; -DCA_NAME='"..."' names it (names must be unique while registered).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

#ifndef CA_NAME
#define CA_NAME "bpfpipe_test"
#endif

#ifdef LINK
#define OPS_SECTION ".struct_ops.link"
#else
#define OPS_SECTION ".struct_ops"
#endif

static inline struct tcp_sock *tcp_sk(const struct sock *sk) { return (struct tcp_sock *)sk; }

SEC("struct_ops")
__u32 BPF_PROG(tiny_ssthresh, struct sock *sk) {
    const struct tcp_sock *tp = tcp_sk(sk);
    return tp->snd_cwnd > 4 ? tp->snd_cwnd >> 1 : 2;
}

SEC("struct_ops")
__u32 BPF_PROG(tiny_undo_cwnd, struct sock *sk) {
    return tcp_sk(sk)->snd_cwnd;
}

SEC("struct_ops")
void BPF_PROG(tiny_cong_avoid, struct sock *sk, __u32 ack, __u32 acked) {
}

SEC(OPS_SECTION)
struct tcp_congestion_ops tiny = {
    .ssthresh = (void *)tiny_ssthresh,
    .undo_cwnd = (void *)tiny_undo_cwnd,
#ifndef INCOMPLETE
    .cong_avoid = (void *)tiny_cong_avoid,
#endif
    .name = CA_NAME,
};
