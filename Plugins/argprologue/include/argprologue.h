/* The plugin exports only bpfpipe_plugin_v1, declared in bpfpipe/plugin.h. */
