// .kconfig externs, kfunc calls and weak externs the kernel lacks.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern bool CONFIG_BPF_SYSCALL __kconfig;
extern int CONFIG_HZ __kconfig __weak;
extern int CONFIG_NO_SUCH_OPTION __kconfig __weak;
extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern int bpf_no_such_kfunc(int x) __ksym __weak;

#ifdef REQUIRE_MISSING
extern int CONFIG_REALLY_NOT_THERE __kconfig;
#endif

// LINUX_KERNEL_VERSION + CONFIG_HZ (+0 for the missing weak option), or 1 when BPF is off.
SEC("syscall") int kconfig_values(void *ctx) {
    if (!CONFIG_BPF_SYSCALL)
        return 1;
#ifdef REQUIRE_MISSING
    return CONFIG_REALLY_NOT_THERE;
#endif
    return LINUX_KERNEL_VERSION + CONFIG_HZ + CONFIG_NO_SUCH_OPTION;
}

SEC("tp_btf/sched_switch") int kfunc_calls(u64 *ctx) {
    struct task_struct *t = bpf_get_current_task_btf();
    struct task_struct *a = bpf_task_acquire(t);
    if (a)
        bpf_task_release(a);
    // The weak kfunc is absent: the call is poisoned, and loads because it is never reached.
    if (bpf_no_such_kfunc)
        return bpf_no_such_kfunc(1);
    return 0;
}
