/*
 * shmbench_write: how long CFITSIO takes to stream a primary image into a new
 * shmem:// file.
 *
 * Usage: shmbench_write NAME MODE BYTES [keep]
 *   NAME   e.g. shmem://h0 (set SHMEM_LIB_KEYBASE to a private key base!)
 *   MODE   row    16-bit image 1024 pixels wide, BYTES/2048 rows; fits_write_img
 *                 (TSHORT) of one row (2048 bytes) per call
 *          chunk  8-bit image 1024 pixels wide, BYTES/1024 rows; fits_write_img
 *                 (TBYTE) of 1 MiB per call. TBYTE into BYTE_IMG is CFITSIO's raw
 *                 path: each call reaches the driver as one 1 MiB smem_write (the
 *                 driver's smem_write is not public). TSHORT would be converted and
 *                 written through CFITSIO's buffers in pieces of 28800 bytes.
 *   keep   leave the file in shared memory (default: delete it after timing)
 *
 * Times fits_create_file .. fits_close_file (CLOCK_MONOTONIC) and prints
 *   TIME <seconds> RSS <peak resident set in KiB>
 * Row mode writes the same big-endian 16-bit ramp that the Rust side writes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <fitsio.h>

#define WIDTH 1024L

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
    fprintf(stderr, "shmbench_write: %s: status %d: %s\n", what, status, msg);
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: shmbench_write NAME row|chunk BYTES [keep]\n");
        return 2;
    }
    const char *name = argv[1];
    int chunked = strcmp(argv[2], "chunk") == 0;
    if (!chunked && strcmp(argv[2], "row") != 0) {
        fprintf(stderr, "shmbench_write: mode must be row or chunk\n");
        return 2;
    }
    long bytes = atol(argv[3]);
    int keep = argc > 4 && strcmp(argv[4], "keep") == 0;
    int bpp = chunked ? 1 : 2;
    long rows = bytes / (bpp * WIDTH);
    if (rows < 1) {
        fprintf(stderr, "shmbench_write: BYTES must be at least %ld\n", bpp * WIDTH);
        return 2;
    }
    long npix = rows * WIDTH;
    long per_call = chunked ? 1048576L : WIDTH;
    void *buf = malloc((size_t)(bpp * per_call));
    if (!buf) {
        fprintf(stderr, "shmbench_write: out of memory\n");
        return 1;
    }
    for (long i = 0; i < per_call; i++) {
        if (chunked)
            ((unsigned char *)buf)[i] = (unsigned char)i;
        else
            ((short *)buf)[i] = (short)(i & 0x7fff);
    }

    int status = 0;
    fitsfile *f = NULL;
    long naxes[2] = {WIDTH, rows};
    double t0 = now_s();
    if (fits_create_file(&f, name, &status))
        fail("fits_create_file", status);
    if (fits_create_img(f, chunked ? BYTE_IMG : SHORT_IMG, 2, naxes, &status))
        fail("fits_create_img", status);
    for (long first = 1; first <= npix; first += per_call) {
        long n = npix - first + 1 < per_call ? npix - first + 1 : per_call;
        if (fits_write_img(f, chunked ? TBYTE : TSHORT, first, n, buf, &status))
            fail("fits_write_img", status);
    }
    if (fits_close_file(f, &status))
        fail("fits_close_file", status);
    double t1 = now_s();

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("TIME %.9f RSS %ld\n", t1 - t0, ru.ru_maxrss);
    if (!keep) {
        if (fits_open_file(&f, name, READWRITE, &status))
            fail("fits_open_file (delete)", status);
        if (fits_delete_file(f, &status))
            fail("fits_delete_file", status);
    }
    free(buf);
    return 0;
}
