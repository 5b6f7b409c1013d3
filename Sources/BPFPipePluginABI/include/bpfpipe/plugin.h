/*
 * bpfpipe preprocessor plugin ABI, version 1.
 *
 * A plugin is a shared object exporting one symbol, bpfpipe_plugin_v1(), which returns a pointer
 * to a static struct bpfpipe_plugin. bpfpipe calls prep() once per instance n of a program with
 * that instance's relocated instructions (the seed's bpf_program_prep_t). Self-contained apart
 * from <linux/bpf.h> and <stdint.h>, so a plugin can be built against this header alone.
 */
#ifndef BPFPIPE_PLUGIN_H
#define BPFPIPE_PLUGIN_H

#include <stdint.h>
#include <linux/bpf.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BPFPIPE_PLUGIN_ABI_VERSION 1

/* What the plugin is asked to preprocess. Strings stay valid for the duration of the call. */
struct bpfpipe_prog_info {
    const char *object;   /* object name in the pipeline */
    const char *program;  /* program (function) name */
    const char *section;  /* ELF section name */
    uint32_t prog_type;   /* enum bpf_prog_type */
    int instances;        /* instance count; prep sees n = 0..instances-1 */
};

/* prep's answer. new_insn_ptr == NULL or new_insn_cnt == 0: skip this instance (it gets no fd).
 * A negative new_insn_cnt is an error. */
struct bpfpipe_prep_result {
    struct bpf_insn *new_insn_ptr;
    int new_insn_cnt;
};

struct bpfpipe_plugin {
    uint32_t abi_version;  /* BPFPIPE_PLUGIN_ABI_VERSION */
    const char *name;
    /* Optional. config_json is the pipeline's `with:` as JSON ("{}" when absent). Non-zero = error.
     * *state starts as NULL. When init fails, bpfpipe calls last_error(*state) and then, if
     * *state is not NULL, fini(*state): store the state first, keep the message in it, and let
     * fini free it, on failure as on success. */
    int (*init)(const char *config_json, void **state);
    /* Required. Non-zero = error: the load stops and names the plugin, program and instance.
     * insns is this call's own copy (writing to it changes nothing else); it is valid only
     * during the call. */
    int (*prep)(void *state, const struct bpfpipe_prog_info *prog, int n,
                const struct bpf_insn *insns, int insns_cnt, struct bpfpipe_prep_result *res);
    /* Optional. Frees res->new_insn_ptr once bpfpipe has copied the instructions. Called
     * whenever new_insn_ptr is not NULL, after last_error when prep failed. */
    void (*release)(void *state, struct bpfpipe_prep_result *res);
    /* Optional. Called once per state, after a successful init when bpfpipe is done with it, or
     * right after last_error when init failed having stored a state. */
    void (*fini)(void *state);
    /* Optional. A message explaining the last non-zero return; owned by the plugin. Called
     * after a failed init (before fini; state may be NULL) or prep (before release). */
    const char *(*last_error)(void *state);
};

/* The one symbol every plugin exports. */
const struct bpfpipe_plugin *bpfpipe_plugin_v1(void);

#ifdef __cplusplus
}
#endif

#endif /* BPFPIPE_PLUGIN_H */
