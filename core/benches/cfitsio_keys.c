/* CFITSIO on the same bytes as shmfits' `throughput` example, for the speed ratio.
 *
 *   cargo run --release -p shmfits-core --example throughput -- header /tmp/h1000.fits
 *   cargo run --release -p shmfits-core --example throughput -- walk /tmp/walk1000.fits
 *   gcc -O2 core/benches/cfitsio_keys.c -o /tmp/cfitsio_keys $(pkg-config --cflags --libs cfitsio)
 *   /tmp/cfitsio_keys /tmp/h1000.fits 0 2000 80640          # every keyword of a 1000-card header
 *   /tmp/cfitsio_keys /tmp/walk1000.fits 1 50 2882880       # walk 1001 HDUs
 *
 * Mode 0: open from memory (parses the header), then read every keyword (name, value,
 * comment), classify its value and convert numbers. Mode 1: count the HDUs (CFITSIO reads
 * every header). Arguments: file, mode, repetitions, header bytes per repetition. */
#include <fitsio.h>
#include <fitsio2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
int main(int argc, char **argv) {
    FILE *fp = fopen(argv[1], "rb"); fseek(fp, 0, SEEK_END); size_t size = ftell(fp); rewind(fp);
    void *buf = malloc(size); fread(buf, 1, size, fp); fclose(fp);
    int mode = atoi(argv[2]); int reps = atoi(argv[3]);
    long header_bytes = atol(argv[4]);
    double t0 = now(); long sum = 0;
    for (int r = 0; r < reps; r++) {
        int status = 0; fitsfile *f; void *p = buf; size_t s = size;
        if (fits_open_memfile(&f, "mem.fits", READONLY, &p, &s, 0, NULL, &status)) { fits_report_error(stderr, status); return 1; }
        if (mode == 0) { /* every keyword of the primary header */
            int nkeys; fits_get_hdrspace(f, &nkeys, NULL, &status);
            char name[FLEN_KEYWORD], value[FLEN_VALUE], comm[FLEN_COMMENT];
            for (int i = 1; i <= nkeys; i++) {
                fits_read_keyn(f, i, name, value, comm, &status);
                char dtype = ' ';
                if (value[0]) { fits_get_keytype(value, &dtype, &status);
                    if (dtype == 'F') { double d; ffc2d(value, &d, &status); sum += (long)d; } else if (dtype == 'I') { LONGLONG l; ffc2jj(value, &l, &status); sum += (long)l; }
                }
                status = 0; sum += strlen(value) + dtype;
            }
        } else { /* walk all HDUs */
            int n; fits_get_num_hdus(f, &n, &status); sum += n;
        }
        fits_close_file(f, &status);
    }
    double dt = now() - t0;
    printf("cfitsio mode %d: %.3f s, %.3f GB/s of header bytes (sum %ld)\n", mode, dt, (double)header_bytes * reps / dt / 1e9, sum);
    return 0;
}
