/* A slower disk for load tests: sleeps SLOW_FSYNC_US microseconds (default 4000) before
 * each fsync/fdatasync of the process it is preloaded into, then does the real call.
 * Built and used by scripts/load-test.sh when SLOW_FSYNC_US is set. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

static void pause_like_a_slow_disk(void) {
    const char *us = getenv("SLOW_FSYNC_US");
    usleep(us ? (useconds_t)atoi(us) : 4000);
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    pause_like_a_slow_disk();
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    pause_like_a_slow_disk();
    return real(fd);
}
