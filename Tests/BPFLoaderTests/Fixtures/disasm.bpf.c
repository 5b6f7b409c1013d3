// Every instruction class the disassembler prints, for DisassemblerTests: each function
// reads its inputs from the context so that clang cannot fold the arithmetic away.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} counts SEC(".maps");

const volatile __u64 limit = 7;
__u64 total = 0;

struct pair { __u8 b; __u16 h; __u32 w; __u64 d; __s8 sb; __s16 sh; __s32 sw; };

static __noinline __u64 alu64(__u64 a, __u64 b, __s64 s)
{
    a += b; a -= 3; a *= b; a /= (b | 1); a %= (b | 3); a |= 0x10; a &= b; a <<= (b & 7);
    a >>= 2; a ^= b; s >>= (b & 15); s >>= 3; a = -a + (__u64)s;
    a += 0x123456789abcdefULL;   // ld_imm64 of a plain constant
    return a;
}

static __noinline __u32 alu32(__u32 a, __u32 b, __s32 s)
{
    a += b; a -= 5; a *= b; a /= (b | 1); a %= (b | 3); a |= 0x20; a &= b; a <<= (b & 7);
    a >>= 1; a ^= b; s >>= (b & 15); s >>= 2; a = -a + (__u32)s; a = __builtin_bswap32(a);
    return a ^ (__u32)__builtin_bswap16((__u16)b) ^ (__u32)__builtin_bswap64((__u64)a << 8);
}

static __noinline __u64 memory(struct pair *p, __u64 v)
{
    struct pair q;
    q.b = (__u8)v; q.h = (__u16)v; q.w = (__u32)v; q.d = v;
    q.sb = (__s8)v; q.sh = (__s16)v; q.sw = (__s32)v;
    p->b = 1; p->h = 2; p->w = 3; p->d = 4;
    return q.b + q.h + q.w + q.d + p->b + p->h + p->w + p->d + p->sb + p->sh + p->sw + q.sb + q.sh + q.sw;
}

static __noinline __u64 atomics(__u64 *d, __u32 *w, __u64 v)
{
    // Before cpu v3 an unused fetch-and-add is the old XADD (`lock ... +=`); the rest needs v3.
    __sync_fetch_and_add(d, v);
    __sync_fetch_and_add(w, (__u32)v);
    __u64 r = *d;
#if __BPF_CPU_VERSION__ >= 3
    r += __sync_fetch_and_add(d, 2);
    r += __sync_fetch_and_or(d, v);
    r += __sync_fetch_and_and(d, v);
    r += __sync_fetch_and_xor(d, v);
    r += __sync_fetch_and_or(w, (__u32)v);
    __atomic_fetch_and(d, v, __ATOMIC_RELAXED);
    __atomic_fetch_xor(d, v, __ATOMIC_RELAXED);
    __atomic_fetch_or(d, v, __ATOMIC_RELAXED);
    r += __sync_lock_test_and_set(d, v);
    r += __sync_val_compare_and_swap(d, v, r);
    r += __sync_val_compare_and_swap(w, (__u32)v, (__u32)r);
#endif
    return r;
}

static __noinline int jumps(__u64 a, __u64 b, __s64 s, __u32 w)
{
    int r = 0;
    if (a == b) r += 1;
    if (a != 7) r += 2;
    if (a > b) r += 3;
    if (a >= 9) r += 4;
    if (a < b) r += 5;
    if (a <= 11) r += 6;
    if (s > -2) r += 7;
    if (s >= (__s64)b) r += 8;
    if (s < -4) r += 9;
    if (s <= (__s64)a) r += 10;
    if (a & 0x40) r += 11;
    if (w == 13) r += 12;
    if ((__s32)w < -14) r += 13;
    if (w > (__u32)a) r += 14;
    return r;
}

static int callback(__u32 index, void *ctx)
{
    *(__u64 *)ctx += index;
    return 0;
}

SEC("socket")
int all_classes(struct __sk_buff *skb)
{
    __u32 key = skb->len & 3;
    __u64 *slot = bpf_map_lookup_elem(&counts, &key);
    __u64 sum = 0;
    __u32 small = skb->mark;
    struct pair p = {};
    if (!slot)
        return 0;
    sum += alu64(skb->len, skb->mark, (__s64)skb->priority);
    sum += alu32(skb->len, skb->mark, (__s32)skb->priority);
    sum += memory(&p, sum);
    sum += atomics(slot, &small, skb->protocol);
    sum += jumps(skb->len, skb->mark, (__s64)skb->priority, skb->hash);
    bpf_loop(4, callback, &sum, 0);
    total += sum + limit;
    return (int)sum;
}

// Forms clang's code generation rarely picks: every jump condition in both widths, legacy packet
// loads, and (cpu v4) the long jump, may_goto and the address-space cast.
SEC("socket")
int asm_forms(struct __sk_buff *skb)
{
    asm volatile (
        "r0 = 0;"
        "if r1 == r2 goto +1;" "if r1 == 1 goto +1;"
        "if r1 != r2 goto +1;" "if r1 != -1 goto +1;"
        "if r1 > r2 goto +1;" "if r1 > 3 goto +1;"
        "if r1 >= r2 goto +1;" "if r1 >= 4 goto +1;"
        "if r1 < r2 goto +1;" "if r1 < 5 goto +1;"
        "if r1 <= r2 goto +1;" "if r1 <= 6 goto +1;"
        "if r1 s> r2 goto +1;" "if r1 s> -7 goto +1;"
        "if r1 s>= r2 goto +1;" "if r1 s>= 8 goto +1;"
        "if r1 s< r2 goto +1;" "if r1 s< 9 goto +1;"
        "if r1 s<= r2 goto +1;" "if r1 s<= 10 goto +1;"
        "if r1 & r2 goto +1;" "if r1 & 11 goto +1;"
#if __BPF_CPU_VERSION__ >= 3
        "if w1 == w2 goto +1;" "if w1 == 12 goto +1;"
        "if w1 != w2 goto +1;" "if w1 != 13 goto +1;"
        "if w1 > w2 goto +1;" "if w1 > 14 goto +1;"
        "if w1 >= w2 goto +1;" "if w1 >= 15 goto +1;"
        "if w1 < w2 goto +1;" "if w1 < 16 goto +1;"
        "if w1 <= w2 goto +1;" "if w1 <= 17 goto +1;"
        "if w1 s> w2 goto +1;" "if w1 s> -18 goto +1;"
        "if w1 s>= w2 goto +1;" "if w1 s>= 19 goto +1;"
        "if w1 s< w2 goto +1;" "if w1 s< -20 goto +1;"
        "if w1 s<= w2 goto +1;" "if w1 s<= 21 goto +1;"
        "if w1 & w2 goto +1;" "if w1 & 22 goto +1;"
        "w0 = -w0;"
#endif
        "goto +0;"
        "r6 = r1;"
        "r0 = *(u8 *)skb[12];"
        "r0 = *(u16 *)skb[r2];"
        "r0 = *(u32 *)skb[0];"
        "r0 = 42;"
        "r0 = -r0;"
#if __BPF_CPU_VERSION__ >= 4
        "gotol +1;"
        "r0 = 1;"
        "may_goto +1;"
        "r0 = 2;"
        "r1 = addr_space_cast(r2, 0, 1);"
        "r0 s/= r1;" "r0 s%%= 3;" "w0 s/= w1;" "w0 s%%= -3;"
        "w0 = (s8)w1;" "w0 = (s16)w1;"
#endif
        ::: "r0", "r1", "r2", "r6");
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
