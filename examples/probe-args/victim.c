// The user program pipelines/probe-args.yaml probes: each function below takes "the interesting
// argument" in a different place, and one instance of probe_args.bpf.c is attached to each.
// Built by hand (README) or by the test:  cc -O2 -o examples/probe-args/victim examples/probe-args/victim.c
//
// Every function is called CALLS times (argv[1], default 3) with the values printed below, so
// what each instance recorded can be checked against what ran.
#include <stdio.h>
#include <stdlib.h>

struct request {
    long id;
    int flags;
    unsigned int size;   // offset 12: what instance 3 fetches with "+12(di):u32"
};

// noinline and not static: the functions keep their own symbol and the C calling convention
// (di, si, dx, ... on x86_64), so a uprobe at their first instruction sees their arguments.
__attribute__((noinline)) long first_arg(long value) { __asm__ volatile("" ::: "memory"); return value + 1; }
__attribute__((noinline)) long second_arg(int unused, long value) { __asm__ volatile("" ::: "memory"); return value + unused; }
__attribute__((noinline)) long third_arg(long a, long b, long value) { __asm__ volatile("" ::: "memory"); return a + b + value; }
__attribute__((noinline)) long field_arg(struct request *r) { __asm__ volatile("" ::: "memory"); return r ? r->size : -1; }
// Called with NULL: the prologue's read of r->size fails and the instance records err = 1.
__attribute__((noinline)) long null_arg(struct request *r) { __asm__ volatile("" ::: "memory"); return r ? r->size : -1; }

// volatile: the values come from memory, so the compiler cannot fold them into the callees.
static volatile long values[] = {1111, 2222, 3333};

int main(int argc, char **argv) {
    int calls = argc > 1 ? atoi(argv[1]) : 3;
    struct request req = {.id = 7, .flags = 1, .size = 4444};
    long sum = 0;
    for (int i = 0; i < calls; i++) {
        sum += first_arg(values[0]);
        sum += second_arg(5, values[1]);
        sum += third_arg(10, 20, values[2]);
        sum += field_arg(&req);
        sum += null_arg(NULL);
    }
    printf("first_arg(%ld) second_arg(5, %ld) third_arg(10, 20, %ld) field_arg(&{.size = %u}) null_arg(NULL), %d times each (sum %ld)\n",
           values[0], values[1], values[2], req.size, calls, sum);
    return 0;
}
