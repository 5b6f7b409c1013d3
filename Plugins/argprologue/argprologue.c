/*
 * Example preprocessor plugin in C, doing what perf did with the seed API: give each instance
 * of a program its own argument through a prologue run before the program body. Instance n
 * stores base + n * step as a 32-bit value at `offset` in the context (r1), e.g. skb->cb[0]
 * (offset 48) for socket filters, where the body reads it.
 *
 *     with: { base: 100, step: 10, offset: 48 }
 *
 * Built by `swift build` as libargprologue.so; builds just as well outside the package:
 *     cc -shared -fPIC -I<bpfpipe>/Sources/BPFPipePluginABI/include argprologue.c -o libargprologue.so
 */
#include <bpfpipe/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct state {
    long long base, step, offset;
    char error[160];
};

/* Reads `"key": <integer>` from the flat JSON object bpfpipe passes; absent keys keep their default. */
static int read_int(const char *json, const char *key, long long *out) {
    char pattern[64];
    snprintf(pattern, sizeof(pattern), "\"%s\":", key);
    const char *at = strstr(json, pattern);
    if (!at)
        return 0;
    at += strlen(pattern);
    while (*at == ' ')
        at++;
    char *end;
    long long v = strtoll(at, &end, 0);
    if (end == at)
        return -1;
    *out = v;
    return 0;
}

static int argprologue_init(const char *config_json, void **state) {
    struct state *s = calloc(1, sizeof(*s));
    if (!s)
        return -1;
    s->step = 1;
    s->offset = 48; /* offsetof(struct __sk_buff, cb[0]) */
    /* Stored before anything can fail: on a failed init bpfpipe reads last_error(s), then
     * calls fini(s), which frees it (plugin.h). */
    *state = s;
    if (read_int(config_json, "base", &s->base) || read_int(config_json, "step", &s->step) ||
        read_int(config_json, "offset", &s->offset)) {
        snprintf(s->error, sizeof(s->error), "base, step and offset must be integers");
        return -1;
    }
    if (s->offset < 0 || s->offset > 32767) {
        snprintf(s->error, sizeof(s->error), "offset %lld is out of range", s->offset);
        return -1;
    }
    return 0;
}

static int argprologue_prep(void *state, const struct bpfpipe_prog_info *prog, int n,
                            const struct bpf_insn *insns, int insns_cnt, struct bpfpipe_prep_result *res) {
    struct state *s = state;
    (void)prog;
    const int extra = 2;
    struct bpf_insn *out = calloc(insns_cnt + extra, sizeof(*out));
    if (!out) {
        snprintf(s->error, sizeof(s->error), "out of memory");
        return -1;
    }
    /* w2 = base + n * step; *(u32 *)(r1 + offset) = w2 */
    out[0].code = BPF_ALU | BPF_MOV | BPF_K;
    out[0].dst_reg = BPF_REG_2;
    out[0].imm = (int)(s->base + (long long)n * s->step);
    out[1].code = BPF_STX | BPF_MEM | BPF_W;
    out[1].dst_reg = BPF_REG_1;
    out[1].src_reg = BPF_REG_2;
    out[1].off = (short)s->offset;
    memcpy(out + extra, insns, sizeof(*out) * insns_cnt);
    res->new_insn_ptr = out;
    res->new_insn_cnt = insns_cnt + extra;
    return 0;
}

static void argprologue_release(void *state, struct bpfpipe_prep_result *res) {
    (void)state;
    free(res->new_insn_ptr);
    res->new_insn_ptr = NULL;
}

static void argprologue_fini(void *state) { free(state); }

static const char *argprologue_last_error(void *state) {
    struct state *s = state;
    return s ? s->error : "out of memory";
}

static const struct bpfpipe_plugin plugin = {
    .abi_version = BPFPIPE_PLUGIN_ABI_VERSION,
    .name = "argprologue",
    .init = argprologue_init,
    .prep = argprologue_prep,
    .release = argprologue_release,
    .fini = argprologue_fini,
    .last_error = argprologue_last_error,
};

const struct bpfpipe_plugin *bpfpipe_plugin_v1(void) { return &plugin; }
