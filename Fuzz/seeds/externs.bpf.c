// A seed for scripts/fuzz only (never loaded): the features the repo's fixtures leave out, so the
// fuzzer starts next to the code that handles them — `.kconfig` externs (BTF sanitising and
// layout), a CO-RE field access (.BTF.ext core_relo), typed globals of every kind the `globals:`
// overrides accept, a callback (function address) and a subprogram call. `__ksym` externs are
// in ksyms.btf-only.bpf.c: resolving one searches all of kernel BTF (or /proc/kallsyms), ~0.15 s
// (~1 s) a run under ASan, which would starve the fuzzer.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

extern int LINUX_KERNEL_VERSION __kconfig;
extern _Bool CONFIG_BPF_SYSCALL __kconfig __weak;
extern char CONFIG_DEFAULT_HOSTNAME[8] __kconfig __weak;

struct task_like {
    int pid;
    long state;
} __attribute__((preserve_access_index));

volatile const unsigned short ro_u16 = 7;
volatile const char ro_name[6] = "seed";
volatile long data_list[3] = {1, 2, 3};
volatile _Bool bss_flag;
enum seed_mode { SEED_A = 1, SEED_B = 0x7fffffff } volatile data_mode = SEED_A;
int custom_counter SEC(".data.custom") = 5;

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, __u32);
    __type(value, __u64);
    __uint(max_entries, 2);
} counts SEC(".maps");

static __noinline int helper(int x) { return x * 3 + ro_u16; }

static long each(__u32 index, void *ctx) { return index > 1; }

SEC("socket")
int seed_prog(struct __sk_buff *skb)
{
    struct task_like *t = (void *)(long)skb->data;
    int pid = BPF_CORE_READ(t, pid);
    __u32 key = 0;
    __u64 *v = bpf_map_lookup_elem(&counts, &key);
    if (v)
        *v += helper(pid) + LINUX_KERNEL_VERSION + CONFIG_BPF_SYSCALL + CONFIG_DEFAULT_HOSTNAME[0];
    bpf_loop(2, each, 0, 0);
    custom_counter += data_list[1] + ro_name[0] + bss_flag + data_mode;
    return pid;
}
