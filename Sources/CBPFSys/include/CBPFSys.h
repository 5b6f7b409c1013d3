#ifndef CBPFSYS_H
#define CBPFSYS_H

#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <linux/magic.h>
#include <sys/types.h>
#include <sys/vfs.h>
#include <sys/mount.h>
#include <spawn.h>

/* bpf(2): returns the syscall's result; errno is set on -1. */
int cbpfsys_bpf(int cmd, union bpf_attr *attr, unsigned int size);

/* perf_event_open(2), for uprobes and tracepoints. */
int cbpfsys_perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu,
                            int group_fd, unsigned long flags);

/* posix_spawn_file_actions_addchdir_np(3): glibc declares it only under _GNU_SOURCE, which
   Swift's Glibc module does not define. */
int cbpfsys_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);

/* Size of union bpf_attr as these headers know it. */
static inline unsigned int cbpfsys_attr_size(void) { return (unsigned int)sizeof(union bpf_attr); }

#endif
