/* The kernel's floor under a cold slab stack (docs/BENCHMARKS.md, issue 15):
 * what one MADV_GUARD_INSTALL per slot costs, what the first touch of each
 * stack's top page costs, and whether batching the guard installs through
 * process_madvise(2) helps. Linux 6.13+ (guard regions); 6.13+ also lets
 * process_madvise take any advice for the calling process.
 *
 *   gcc -O2 scripts/stack_floor.c -o /tmp/stack_floor && /tmp/stack_floor
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MADV_GUARD_INSTALL_ 102
#define SLOT (68 * 1024) /* a 4 KiB guard + a 64 KiB stack, as greenrt's */
#define SLOTS 16384
#define BATCH 1024 /* IOV_MAX */

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static char *slab(void) {
    char *m = mmap(0, (size_t)SLOT * SLOTS, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
        perror("mmap");
        _exit(1);
    }
    return m;
}

int main(void) {
    char *m = slab();
    double t0 = now_ns();
    for (size_t i = 0; i < SLOTS; i++) {
        if (madvise(m + i * SLOT, 4096, MADV_GUARD_INSTALL_) != 0) {
            perror("madvise(MADV_GUARD_INSTALL)");
            return 1;
        }
    }
    double t1 = now_ns();
    for (size_t i = 0; i < SLOTS; i++)
        m[i * SLOT + SLOT - 1] = 1; /* the top page of each stack */
    double t2 = now_ns();
    printf("guard install: %.0f ns per slot\n", (t1 - t0) / SLOTS);
    printf("first touch of a stack's top page: %.0f ns per slot\n", (t2 - t1) / SLOTS);

    char *b = slab();
    int pidfd = syscall(SYS_pidfd_open, getpid(), 0);
    struct iovec iov[BATCH];
    double t3 = now_ns();
    for (size_t first = 0; first < SLOTS; first += BATCH) {
        for (size_t k = 0; k < BATCH; k++) {
            iov[k].iov_base = b + (first + k) * SLOT;
            iov[k].iov_len = 4096;
        }
        if (syscall(SYS_process_madvise, pidfd, iov, BATCH, MADV_GUARD_INSTALL_, 0) < 0) {
            perror("process_madvise");
            return 1;
        }
    }
    double t4 = now_ns();
    printf("guard install batched by process_madvise: %.0f ns per slot\n", (t4 - t3) / SLOTS);
    return 0;
}
