#include <fitsio.h>
#include <stdio.h>
#include <string.h>
#define CK(x) do { if ((x)) { fits_report_error(stderr, status); return 1; } } while (0)
int main(void) {
    int status = 0;
    fitsfile *f;
    /* 1: primary 16-bit image with assorted keywords */
    remove("img16.fits");
    CK(fits_create_file(&f, "img16.fits", &status));
    long naxes[2] = {10, 10};
    CK(fits_create_img(f, SHORT_IMG, 2, naxes, &status));
    short pix[100]; for (int i = 0; i < 100; i++) pix[i] = i;
    CK(fits_write_img(f, TSHORT, 1, 100, pix, &status));
    CK(fits_write_key(f, TSTRING, "OBJECT", "O'Hara's nebula", "with a quote", &status));
    double d = 1.0/3.0; CK(fits_write_key(f, TDOUBLE, "EXPTIME", &d, "seconds", &status));
    double c[2] = {1.5, -2.25}; CK(fits_write_key(f, TDBLCOMPLEX, "CPLX", c, "complex", &status));
    long long big = 9000000000000000000LL; CK(fits_write_key(f, TLONGLONG, "BIGINT", &big, NULL, &status));
    int t = 1; CK(fits_write_key(f, TLOGICAL, "FLAG", &t, "logical", &status));
    CK(fits_write_key_null(f, "UNDEF", "undefined value", &status));
    CK(fits_write_key_longstr(f, "LONGSTR", "This is a long string value that is continued over several CONTINUE cards because it is far longer than 68 characters, with 'quotes' too.", "long", &status));
    CK(fits_write_comment(f, "A comment card.", &status));
    CK(fits_write_history(f, "Made by the shmfits corpus generator.", &status));
    CK(fits_write_key(f, TSTRING, "ESO DET CHIP NAME", "ccd1", "hierarch", &status));
    CK(fits_close_file(f, &status));

    /* 2: multi-extension: empty primary, float image, bintable with heap, ascii table */
    remove("mef.fits");
    CK(fits_create_file(&f, "mef.fits", &status));
    CK(fits_create_img(f, BYTE_IMG, 0, NULL, &status));
    long n3[3] = {3, 4, 2};
    CK(fits_create_img(f, FLOAT_IMG, 3, n3, &status));
    float fp[24]; for (int i = 0; i < 24; i++) fp[i] = i * 0.5f;
    CK(fits_write_img(f, TFLOAT, 1, 24, fp, &status));
    CK(fits_write_key(f, TSTRING, "EXTNAME", "SCI", NULL, &status));
    char *tt[] = {"ID", "VLA"}; char *tf[] = {"J", "1PJ(5)"}; char *tu[] = {"", "count"};
    CK(fits_create_tbl(f, BINARY_TBL, 0, 2, tt, tf, tu, "EVENTS", &status));
    for (int r = 1; r <= 3; r++) {
        int id = r; CK(fits_write_col(f, TINT, 1, r, 1, 1, &id, &status));
        int v[5] = {1, 2, 3, 4, 5}; CK(fits_write_col(f, TINT, 2, r, 1, r + 1, v, &status));
    }
    char *at[] = {"NAME", "X"}; char *af[] = {"A8", "F8.3"};
    CK(fits_create_tbl(f, ASCII_TBL, 0, 2, at, af, NULL, "CAT", &status));
    char *names[] = {"alpha", "beta"}; CK(fits_write_col(f, TSTRING, 1, 1, 1, 2, names, &status));
    double xs[] = {1.25, -3.5}; CK(fits_write_col(f, TDOUBLE, 2, 1, 1, 2, xs, &status));
    CK(fits_close_file(f, &status));

    /* 3: random groups */
    remove("groups.fits");
    CK(fits_create_file(&f, "groups.fits", &status));
    long gn[3] = {0, 2, 3};
    CK(fits_write_grphdr(f, 1, FLOAT_IMG, 3, gn, 2, 4, 1, &status));
    float g[32]; for (int i = 0; i < 32; i++) g[i] = i;
    CK(fits_write_grppar_flt(f, 1, 1, 2, g, &status));
    CK(fits_close_file(f, &status));

    /* 4: one image extension per BITPIX, 5x3 pixels each */
    remove("bitpix.fits");
    CK(fits_create_file(&f, "bitpix.fits", &status));
    CK(fits_create_img(f, BYTE_IMG, 0, NULL, &status));
    int bp[] = {BYTE_IMG, SHORT_IMG, LONG_IMG, LONGLONG_IMG, FLOAT_IMG, DOUBLE_IMG};
    long n2[2] = {5, 3};
    double px[15]; for (int i = 0; i < 15; i++) px[i] = i;
    for (int k = 0; k < 6; k++) {
        CK(fits_create_img(f, bp[k], 2, n2, &status));
        CK(fits_write_img(f, TDOUBLE, 1, 15, px, &status));
    }
    CK(fits_close_file(f, &status));
    return 0;
}
