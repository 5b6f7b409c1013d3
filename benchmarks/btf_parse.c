// P4 reference: how long libbpf's btf__parse takes on the kernel's BTF, timed inside the process
// so start-up and linking are not counted. Prints one line per parse, in milliseconds; the driver
// (benchmarks/run) takes the median. Same shape as BTFBench/main.swift, which times bpfpipe's parser.
//   cc -O2 -o btf_parse btf_parse.c -lbpf && ./btf_parse [/sys/kernel/btf/vmlinux] [repeats]
#include <bpf/btf.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "/sys/kernel/btf/vmlinux";
    int repeats = argc > 2 ? atoi(argv[2]) : 5;
    for (int i = 0; i < repeats; i++) {
        double start = now_ms();
        struct btf *btf = btf__parse(path, NULL);
        double took = now_ms() - start;
        if (!btf) { fprintf(stderr, "btf__parse %s failed\n", path); return 1; }
        printf("%.3f %u\n", took, btf__type_cnt(btf));
        btf__free(btf);
    }
    return 0;
}
