/* A plugin that crashes (NULL write) on instance 1 and passes the code through otherwise:
 * for the isolation: process tests. */
#include <bpfpipe/plugin.h>
#include <stdlib.h>
#include <string.h>

static int prep(void *state, const struct bpfpipe_prog_info *prog, int n, const struct bpf_insn *insns,
                int cnt, struct bpfpipe_prep_result *res) {
    (void)state;
    (void)prog;
    if (n == 1) {
        volatile int *nowhere = 0;
        *nowhere = 1;
    }
    res->new_insn_ptr = malloc(sizeof(*insns) * cnt);
    memcpy(res->new_insn_ptr, insns, sizeof(*insns) * cnt);
    res->new_insn_cnt = cnt;
    return 0;
}

static void release(void *state, struct bpfpipe_prep_result *res) {
    (void)state;
    free(res->new_insn_ptr);
}

static const struct bpfpipe_plugin plugin = {
    .abi_version = BPFPIPE_PLUGIN_ABI_VERSION, .name = "crashy", .prep = prep, .release = release,
};

const struct bpfpipe_plugin *bpfpipe_plugin_v1(void) { return &plugin; }
