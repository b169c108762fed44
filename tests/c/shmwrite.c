/*
 * shmwrite: create a shmem:// file with the CFITSIO API and write images into it.
 *
 * Usage: shmwrite NAME NX NY [NEXT]
 *   NAME  a CFITSIO name, normally shmem://hN (an existing file is an error)
 *   NX NY size of the 16-bit primary image; pixel (x, y) = (x + 3*y) % 32768
 *   NEXT  number of IMAGE extensions to append after it (default 0), each a
 *         -32 image of NX x NY with EXTNAME 'EXTn' and pixel = x - y + n; every
 *         extension grows the file, so CFITSIO reallocates the segment
 *
 * Set SHMEM_LIB_KEYBASE / SHMEM_LIB_MAXSEG to choose the key range: tests never
 * use CFITSIO's default keys. Prints "written <bytes of FITS>" after closing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <fitsio.h>

static void check(int status, const char *what)
{
    if (status) {
        char msg[FLEN_ERRMSG];
        fits_get_errstatus(status, msg);
        fprintf(stderr, "shmwrite: %s: status %d: %s\n", what, status, msg);
        while (fits_read_errmsg(msg))
            fprintf(stderr, "shmwrite:   %s\n", msg);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    fitsfile *f = NULL;
    int status = 0;
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: shmwrite NAME NX NY [NEXT]\n");
        return 2;
    }
    long nx = atol(argv[2]), ny = atol(argv[3]);
    long next = argc > 4 ? atol(argv[4]) : 0;
    if (nx < 1 || ny < 1 || next < 0) {
        fprintf(stderr, "shmwrite: NX, NY must be positive and NEXT not negative\n");
        return 2;
    }
    long naxes[2] = {nx, ny};
    short *img = malloc((size_t)(nx * ny) * sizeof *img);
    float *ext = malloc((size_t)(nx * ny) * sizeof *ext);
    if (!img || !ext) {
        fprintf(stderr, "shmwrite: out of memory\n");
        return 1;
    }
    fits_create_file(&f, argv[1], &status);
    check(status, "fits_create_file");
    fits_create_img(f, SHORT_IMG, 2, naxes, &status);
    fits_write_key_str(f, "ORIGIN", "shmwrite.c", "written through CFITSIO shmem driver", &status);
    check(status, "primary header");
    for (long y = 0; y < ny; y++)
        for (long x = 0; x < nx; x++)
            img[y * nx + x] = (short)((x + 3 * y) % 32768);
    fits_write_img(f, TSHORT, 1, nx * ny, img, &status);
    check(status, "fits_write_img");
    for (long n = 1; n <= next; n++) {
        char extname[32];
        snprintf(extname, sizeof extname, "EXT%ld", n);
        fits_create_img(f, FLOAT_IMG, 2, naxes, &status);
        fits_write_key_str(f, "EXTNAME", extname, NULL, &status);
        check(status, "extension header");
        for (long y = 0; y < ny; y++)
            for (long x = 0; x < nx; x++)
                ext[y * nx + x] = (float)(x - y + n);
        fits_write_img(f, TFLOAT, 1, nx * ny, ext, &status);
        check(status, "extension data");
    }
    LONGLONG size = 0;
    fits_get_hduaddrll(f, NULL, NULL, &size, &status);
    check(status, "fits_get_hduaddrll");
    fits_close_file(f, &status);
    check(status, "fits_close_file");
    printf("written\t%lld\n", size);
    free(img);
    free(ext);
    return 0;
}
