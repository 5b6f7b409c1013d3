// CO-RE relocations of every kind, resolved by bpfpipe against the running kernel's BTF. The
// socket programs store what each relocation became in `results`; the tests compare the slots
// with what they read from /sys/kernel/btf/vmlinux themselves.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 32);
    __type(key, __u32);
    __type(value, __u64);
} results SEC(".maps");

// A kernel struct in memory a socket filter may read: bitfields and loads of relocated fields
// are checked on it.
struct bpf_insn sample_insn = { .code = 0x85, .dst_reg = 5, .src_reg = 0xa, .off = -3, .imm = 0x12345678 };

// Flavors: the part after ___ is ignored when looking for the kernel type.
struct task_struct___fake { int nonexistent; } __attribute__((preserve_access_index));
struct task_struct___pidonly { int pid; } __attribute__((preserve_access_index));
struct bpf_insn___swapped { __s32 imm; __u8 code; } __attribute__((preserve_access_index));
struct bpf_insn___wide { __u64 code; } __attribute__((preserve_access_index));
struct bpf_insn___wrong { __u64 code; };
struct bpfpipe_no_such_type { int x; };
enum bpf_map_type___fake { BPF_MAP_TYPE_NOPE___fake = 999 };

static __always_inline void put(__u32 slot, __u64 value) {
    bpf_map_update_elem(&results, &slot, &value, BPF_ANY);
}

SEC("socket") int fields(struct __sk_buff *skb) {
    put(0, bpf_core_field_offset(struct task_struct, pid));
    put(1, bpf_core_field_size(struct task_struct, pid));
    put(2, bpf_core_field_exists(struct task_struct, pid));
    put(3, bpf_core_field_exists(struct task_struct___fake, nonexistent));
    put(4, bpf_core_field_offset(struct task_struct___pidonly, pid));
    put(5, __builtin_preserve_field_info(((struct task_struct *)0)->se.vruntime, BPF_FIELD_BYTE_OFFSET));
    put(6, __builtin_preserve_field_info(((struct task_struct *)0)->comm[3], BPF_FIELD_BYTE_OFFSET));
    put(7, __builtin_preserve_field_info(sample_insn.off, BPF_FIELD_SIGNED));
    put(8, __builtin_preserve_field_info(sample_insn.code, BPF_FIELD_SIGNED));
    put(9, bpf_core_field_size(struct task_struct, comm));
    return 1;
}

SEC("socket") int types(struct __sk_buff *skb) {
    put(0, bpf_core_type_exists(struct task_struct));
    put(1, bpf_core_type_exists(struct bpfpipe_no_such_type));
    put(2, bpf_core_type_size(struct task_struct));
    put(3, bpf_core_type_id_kernel(struct task_struct));
    put(4, bpf_core_type_id_local(struct task_struct));
    put(5, bpf_core_type_size(struct bpfpipe_no_such_type));
    put(6, bpf_core_type_id_kernel(struct bpfpipe_no_such_type));
    return 2;
}

SEC("socket") int enums(struct __sk_buff *skb) {
    put(0, bpf_core_enum_value_exists(enum bpf_map_type, BPF_MAP_TYPE_ARRAY));
    put(1, bpf_core_enum_value(enum bpf_map_type, BPF_MAP_TYPE_ARRAY));
    put(2, bpf_core_enum_value(enum bpf_map_type, BPF_MAP_TYPE_ARENA));
    put(3, bpf_core_enum_value_exists(enum bpf_map_type___fake, BPF_MAP_TYPE_NOPE___fake));
    return 3;
}

SEC("socket") int bitfields(struct __sk_buff *skb) {
    put(0, BPF_CORE_READ_BITFIELD(&sample_insn, dst_reg));
    put(1, BPF_CORE_READ_BITFIELD(&sample_insn, src_reg));
    put(2, __builtin_preserve_field_info(sample_insn.src_reg, BPF_FIELD_LSHIFT_U64));
    put(3, __builtin_preserve_field_info(sample_insn.src_reg, BPF_FIELD_RSHIFT_U64));
    put(4, __builtin_preserve_field_info(sample_insn.src_reg, BPF_FIELD_BYTE_OFFSET));
    put(5, __builtin_preserve_field_info(sample_insn.src_reg, BPF_FIELD_BYTE_SIZE));
    return 4;
}

SEC("socket") int loads(struct __sk_buff *skb) {
    // The local layouts differ from the kernel's: the load offsets (and widths) must follow it.
    struct bpf_insn___swapped *swapped = (void *)&sample_insn;
    struct bpf_insn___wide *wide = (void *)&sample_insn;
    put(0, swapped->imm);
    put(1, swapped->code);
    put(2, wide->code);
    return 5;
}

SEC("socket") int matches(struct __sk_buff *skb) {
    put(0, bpf_core_type_matches(struct list_head));
    put(1, bpf_core_type_matches(struct bpf_insn___wrong));
    put(2, bpf_core_type_matches(enum bpf_map_type));
    put(3, bpf_core_type_matches(struct bpf_insn));
    put(4, bpf_core_type_matches(struct callback_head));
    return 6;
}

// The missing field is only read when it exists: the poisoned instruction is dead code.
SEC("socket") int guarded_missing(struct __sk_buff *skb) {
    if (bpf_core_field_exists(struct task_struct___fake, nonexistent))
        return bpf_core_field_offset(struct task_struct___fake, nonexistent);
    return 7;
}

// The missing field is used unconditionally: the verifier reaches the poisoned instruction.
SEC("?socket") int reached_missing(struct __sk_buff *skb) {
    return bpf_core_field_offset(struct task_struct___fake, nonexistent);
}
