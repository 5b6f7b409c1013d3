/*
 * An out-of-tree preprocessor plugin, built against bpfpipe/plugin.h alone:
 *
 *     cc -shared -fPIC -I<bpfpipe>/Sources/BPFPipePluginABI/include maskimm.c -o libmaskimm.so
 *
 * Instance n replaces the marker immediate 0x0badcafe with (n << shift). With
 * `with: { shift: 4 }` instance 3 returns 48. The setting is kept in a global because this
 * plugin has nothing per-use to remember; plugins with real state use init's state pointer.
 */
#include <bpfpipe/plugin.h>
#include <stdlib.h>
#include <string.h>

static int shift = 0;

static int maskimm_init(const char *config_json, void **state) {
    const char *at = strstr(config_json, "\"shift\":");
    *state = NULL;
    if (at)
        shift = atoi(at + strlen("\"shift\":"));
    /* No state is stored, so after a failure bpfpipe calls last_error(NULL) and no fini. */
    return shift < 0 || shift > 24;
}

static const char *maskimm_last_error(void *state) {
    (void)state;
    return "shift must be from 0 to 24";
}

static int maskimm_prep(void *state, const struct bpfpipe_prog_info *prog, int n,
                        const struct bpf_insn *insns, int insns_cnt, struct bpfpipe_prep_result *res) {
    (void)state;
    (void)prog;
    struct bpf_insn *out = malloc(sizeof(*out) * insns_cnt);
    if (!out)
        return -1;
    memcpy(out, insns, sizeof(*out) * insns_cnt);
    for (int i = 0; i < insns_cnt; i++)
        if (out[i].imm == 0x0badcafe)
            out[i].imm = n << shift;
    res->new_insn_ptr = out;
    res->new_insn_cnt = insns_cnt;
    return 0;
}

static void maskimm_release(void *state, struct bpfpipe_prep_result *res) {
    (void)state;
    free(res->new_insn_ptr);
}

static const struct bpfpipe_plugin plugin = {
    .abi_version = BPFPIPE_PLUGIN_ABI_VERSION,
    .name = "maskimm",
    .init = maskimm_init,
    .prep = maskimm_prep,
    .release = maskimm_release,
    .last_error = maskimm_last_error,
};

const struct bpfpipe_plugin *bpfpipe_plugin_v1(void) { return &plugin; }
