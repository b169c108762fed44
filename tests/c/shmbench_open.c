/*
 * shmbench_open: CFITSIO's cost of opening and closing an existing shmem://
 * file, READONLY.
 *
 * Usage: shmbench_open NAME CYCLES
 *   NAME    e.g. shmem://h0 (set SHMEM_LIB_KEYBASE to a private key base!)
 *   CYCLES  number of fits_open_file + fits_close_file cycles (0 is allowed,
 *           to count the syscalls of everything else under strace)
 *
 * One warm-up cycle runs first when CYCLES > 0 (CFITSIO attaches its global
 * table on the first open), then prints
 *   TIME <seconds per cycle>
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <fitsio.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void fail(const char *what, int status)
{
    char msg[FLEN_ERRMSG];
    fits_get_errstatus(status, msg);
    fprintf(stderr, "shmbench_open: %s: status %d: %s\n", what, status, msg);
    exit(1);
}

static void cycle(const char *name)
{
    int status = 0;
    fitsfile *f = NULL;
    if (fits_open_file(&f, name, READONLY, &status))
        fail("fits_open_file", status);
    if (fits_close_file(f, &status))
        fail("fits_close_file", status);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: shmbench_open NAME CYCLES\n");
        return 2;
    }
    const char *name = argv[1];
    long cycles = atol(argv[2]);
    /* warm-up: the first open attaches CFITSIO's global table */
    if (cycles > 0)
        cycle(name);
    double t0 = now_s();
    for (long i = 0; i < cycles; i++)
        cycle(name);
    double t1 = now_s();
    printf("TIME %.9f\n", cycles > 0 ? (t1 - t0) / (double)cycles : 0.0);
    return 0;
}
