// A seed for scripts/fuzz's BTF target only (`.btf-only`: no object seed is made from it, see
// externs.bpf.c for why): a `.ksyms` DATASEC holding a typed and a typeless variable and a kfunc,
// which the BTF sanitiser lays out and rewrites.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

extern const int bpf_prog_active __ksym __weak;
extern const void bpf_fuzz_typeless __ksym __weak;
extern int bpf_fuzz_kfunc(int x, void *p) __ksym __weak;

SEC("socket")
int ksyms_prog(struct __sk_buff *skb)
{
    int r = bpf_prog_active + (&bpf_fuzz_typeless != 0);
    if (bpf_fuzz_kfunc)
        r += bpf_fuzz_kfunc(r, skb);
    return r;
}
