// Programs whose load needs an attach target resolved from kernel BTF (attach_btf_id).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next) {
    return 0;
}

SEC("iter/task") int dump_task(struct bpf_iter__task *ctx) { return 0; }

// A target this kernel does not have: must fail clearly, naming it.
SEC("?tp_btf/no_such_tracepoint_here") int BPF_PROG(missing_target) { return 0; }
