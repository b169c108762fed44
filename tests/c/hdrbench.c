/*
 * hdrbench: how fast CFITSIO reads the keywords of one header.
 *
 * Usage: hdrbench FILE [ITERATIONS] [HDU]   (defaults: 2000 iterations, HDU 1)
 *
 * Opens FILE once (so the header blocks sit in CFITSIO's buffers, as our
 * parser gets its bytes from memory), then reads every card of the HDU
 * ITERATIONS times, for each method:
 *   read_record  fits_read_record: the 80 bytes of each card (no parsing)
 *   read_keyn    fits_read_keyn: keyword, value and comment of each card
 *   hdr2str      fits_hdr2str: the whole header into one string (allocates)
 * and prints, per method, one line:
 *   METHOD <name> <cards per pass> <passes> <ns per card> <MB/s of 80-byte cards>
 * A checksum of what was read is printed last, so nothing can be optimised away.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fitsio.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void fail(const char *what, int status)
{
    char msg[FLEN_ERRMSG];
    fits_get_errstatus(status, msg);
    fprintf(stderr, "hdrbench: %s: status %d: %s\n", what, status, msg);
    exit(1);
}

static void report(const char *method, int nkeys, long passes, double elapsed)
{
    double cards = (double)nkeys * (double)passes;
    double ns_per_card = elapsed / cards;
    double mbps = cards * 80.0 / (elapsed / 1e9) / 1e6;
    printf("METHOD\t%s\t%d\t%ld\t%.3f\t%.1f\n", method, nkeys, passes, ns_per_card, mbps);
}

int main(int argc, char **argv)
{
    fitsfile *f = NULL;
    int status = 0, nkeys = 0, hdutype = 0;
    unsigned long checksum = 0;
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: hdrbench FILE [ITERATIONS] [HDU]\n");
        return 2;
    }
    long passes = argc > 2 ? atol(argv[2]) : 2000;
    int hdu = argc > 3 ? atoi(argv[3]) : 1;
    if (passes < 1 || hdu < 1) {
        fprintf(stderr, "hdrbench: ITERATIONS and HDU must be positive\n");
        return 2;
    }
    if (fits_open_file(&f, argv[1], READONLY, &status))
        fail("fits_open_file", status);
    if (fits_movabs_hdu(f, hdu, &hdutype, &status))
        fail("fits_movabs_hdu", status);
    if (fits_get_hdrspace(f, &nkeys, NULL, &status))
        fail("fits_get_hdrspace", status);

    /* warm up: one pass of each, untimed */
    char card[FLEN_CARD], name[FLEN_KEYWORD + 80], value[FLEN_VALUE], comment[FLEN_COMMENT];
    for (int k = 1; k <= nkeys; k++)
        fits_read_record(f, k, card, &status);
    if (status)
        fail("fits_read_record", status);

    double t0 = now_ns();
    for (long p = 0; p < passes; p++) {
        for (int k = 1; k <= nkeys; k++) {
            fits_read_record(f, k, card, &status);
            checksum += (unsigned char)card[0] + (unsigned long)strlen(card);
        }
    }
    double t1 = now_ns();
    if (status)
        fail("fits_read_record", status);
    report("read_record", nkeys, passes, t1 - t0);

    t0 = now_ns();
    for (long p = 0; p < passes; p++) {
        for (int k = 1; k <= nkeys; k++) {
            fits_read_keyn(f, k, name, value, comment, &status);
            checksum += (unsigned char)name[0] + (unsigned char)value[0] + (unsigned char)comment[0];
        }
    }
    t1 = now_ns();
    if (status)
        fail("fits_read_keyn", status);
    report("read_keyn", nkeys, passes, t1 - t0);

    t0 = now_ns();
    for (long p = 0; p < passes; p++) {
        char *header = NULL;
        int n = 0;
        fits_hdr2str(f, 0, NULL, 0, &header, &n, &status);
        if (status)
            fail("fits_hdr2str", status);
        checksum += (unsigned long)n + (unsigned char)header[0];
        fits_free_memory(header, &status);
    }
    t1 = now_ns();
    report("hdr2str", nkeys, passes, t1 - t0);

    fits_close_file(f, &status);
    printf("CHECKSUM\t%lu\n", checksum);
    return 0;
}
