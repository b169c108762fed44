/*
 * mkfits: write the FITS test corpus with the CFITSIO API.
 *
 * Usage: mkfits OUTDIR
 *
 * Every file is made by CFITSIO itself (plus a few raw cards through
 * fits_write_record where the API has no writer for a legal form, such as
 * D exponents or integer complex values), so that our parser is checked
 * against files a real FITS writer produces. Prints one line per file made:
 * "FILE\t<name>". Exits non-zero with the CFITSIO message on any error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fitsio.h>

static const char *outdir;
static char current[4096];

static void check(int status, const char *what)
{
    if (status) {
        char msg[FLEN_ERRMSG];
        fits_get_errstatus(status, msg);
        fprintf(stderr, "mkfits: %s: %s: status %d: %s\n", current, what, status, msg);
        while (fits_read_errmsg(msg))
            fprintf(stderr, "mkfits:   %s\n", msg);
        exit(1);
    }
}

static fitsfile *create(const char *name)
{
    fitsfile *f = NULL;
    int status = 0;
    char path[4096 + 2];
    snprintf(current, sizeof current, "%s/%s", outdir, name);
    /* leading '!' makes CFITSIO overwrite an existing file */
    snprintf(path, sizeof path, "!%s", current);
    fits_create_file(&f, path, &status);
    check(status, "fits_create_file");
    return f;
}

static void finish(fitsfile *f, const char *name)
{
    int status = 0;
    fits_close_file(f, &status);
    check(status, "fits_close_file");
    printf("FILE\t%s\n", name);
}

static const char *bitpix_tag(int bitpix)
{
    switch (bitpix) {
    case 8: return "8";
    case 16: return "16";
    case 32: return "32";
    case 64: return "64";
    case -32: return "m32";
    default: return "m64";
    }
}

/* A ramp image of the given shape, written as doubles; CFITSIO converts. */
static void write_ramp(fitsfile *f, int bitpix, int naxis, long *naxes)
{
    int status = 0;
    LONGLONG n = 1;
    for (int i = 0; i < naxis; i++)
        n *= naxes[i];
    if (naxis == 0 || n == 0)
        return;
    double *buf = malloc((size_t)n * sizeof *buf);
    if (!buf) {
        fprintf(stderr, "mkfits: out of memory\n");
        exit(1);
    }
    for (LONGLONG i = 0; i < n; i++) {
        double v = (double)(i % 251);
        if (bitpix < 0)
            v = v * 0.5 - 17.25;
        else if (bitpix > 8 && (i % 3) == 1)
            v = -v;
        buf[i] = v;
    }
    fits_write_img(f, TDOUBLE, 1, n, buf, &status);
    check(status, "fits_write_img");
    free(buf);
}

static void primary_images(void)
{
    static const int bitpixes[] = {8, 16, 32, 64, -32, -64};
    static long shapes[4][3] = {{0, 0, 0}, {1000, 0, 0}, {100, 50, 0}, {10, 7, 3}};
    for (size_t b = 0; b < sizeof bitpixes / sizeof *bitpixes; b++) {
        for (int naxis = 0; naxis <= 3; naxis++) {
            char name[64];
            int status = 0;
            snprintf(name, sizeof name, "img_bp%s_n%d.fits", bitpix_tag(bitpixes[b]), naxis);
            fitsfile *f = create(name);
            fits_create_img(f, bitpixes[b], naxis, shapes[naxis], &status);
            check(status, "fits_create_img");
            fits_write_key_str(f, "OBJECT", "ramp", "what this is", &status);
            check(status, "fits_write_key_str");
            write_ramp(f, bitpixes[b], naxis, shapes[naxis]);
            finish(f, name);
        }
    }
}

static void unsigned_image(void)
{
    const char *name = "img_ushort_bzero.fits";
    int status = 0;
    long naxes[2] = {33, 17};
    unsigned short buf[33 * 17];
    fitsfile *f = create(name);
    fits_create_img(f, USHORT_IMG, 2, naxes, &status);
    check(status, "fits_create_img");
    for (int i = 0; i < 33 * 17; i++)
        buf[i] = (unsigned short)(i * 97);
    fits_write_img(f, TUSHORT, 1, 33 * 17, buf, &status);
    check(status, "fits_write_img");
    finish(f, name);
}

static void image_extensions(void)
{
    const char *name = "image_ext.fits";
    int status = 0;
    long sci[2] = {64, 32};
    long cube[3] = {5, 4, 3};
    fitsfile *f = create(name);
    fits_create_img(f, 8, 0, NULL, &status);
    check(status, "primary");
    fits_create_img(f, FLOAT_IMG, 2, sci, &status);
    fits_write_key_str(f, "EXTNAME", "SCI", "extension name", &status);
    fits_write_key_lng(f, "EXTVER", 1, "extension version", &status);
    check(status, "SCI");
    write_ramp(f, FLOAT_IMG, 2, sci);
    fits_create_img(f, SHORT_IMG, 0, NULL, &status);
    fits_write_key_str(f, "EXTNAME", "EMPTY", "an IMAGE extension without data", &status);
    check(status, "EMPTY");
    fits_create_img(f, LONGLONG_IMG, 3, cube, &status);
    fits_write_key_str(f, "EXTNAME", "CUBE", NULL, &status);
    check(status, "CUBE");
    write_ramp(f, LONGLONG_IMG, 3, cube);
    finish(f, name);
}

static void ascii_table(void)
{
    const char *name = "ascii_table.fits";
    int status = 0;
    char *ttype[] = {"NAME", "FLUX", "COUNT", "RATIO"};
    char *tform[] = {"A10", "F10.3", "I6", "E12.4"};
    char *tunit[] = {"", "Jy", "", ""};
    char *names[] = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta"};
    double flux[] = {1.5, -2.25, 3.125, 100.0, 0.001, 42.0, -7.5};
    long count[] = {1, 22, 333, 4444, 55555, -6, 0};
    double ratio[] = {1e-10, 2.5e3, -3.75e-2, 0, 1e20, 6.02e23, -1};
    fitsfile *f = create(name);
    fits_create_img(f, 8, 0, NULL, &status);
    fits_create_tbl(f, ASCII_TBL, 7, 4, ttype, tform, tunit, "CATALOG", &status);
    check(status, "fits_create_tbl");
    fits_write_col(f, TSTRING, 1, 1, 1, 7, names, &status);
    fits_write_col(f, TDOUBLE, 2, 1, 1, 7, flux, &status);
    fits_write_col(f, TLONG, 3, 1, 1, 7, count, &status);
    fits_write_col(f, TDOUBLE, 4, 1, 1, 7, ratio, &status);
    check(status, "fits_write_col");
    finish(f, name);
}

static void bintable_vla(void)
{
    const char *name = "bintable_vla.fits";
    int status = 0;
    char *ttype[] = {"ID", "LABEL", "VEC", "VLA", "VLD", "FLAG", "CPLX", "VLQ"};
    char *tform[] = {"1J", "8A", "3E", "1PJ(12)", "1PD(7)", "1L", "1C", "1QI(9)"};
    char *tunit[] = {"", "", "m", "count", "", "", "", ""};
    enum { ROWS = 20 };
    fitsfile *f = create(name);
    fits_create_img(f, 16, 0, NULL, &status);
    fits_create_tbl(f, BINARY_TBL, 0, 8, ttype, tform, tunit, "EVENTS", &status);
    check(status, "fits_create_tbl");
    for (long row = 1; row <= ROWS; row++) {
        long id = row * 10;
        char label[16];
        char *lp = label;
        float vec[3] = {(float)row, (float)row / 2, -(float)row};
        long vla[12];
        double vld[7];
        short vlq[9];
        char flag = (char)(row % 2);
        float cplx[2] = {(float)row, -0.5f};
        long nvla = row % 13;
        long nvld = (row * 3) % 8;
        long nvlq = row % 10;
        snprintf(label, sizeof label, "row%ld", row);
        for (long i = 0; i < 12; i++)
            vla[i] = row * 100 + i;
        for (long i = 0; i < 7; i++)
            vld[i] = row + i * 0.125;
        for (long i = 0; i < 9; i++)
            vlq[i] = (short)(row - i);
        fits_write_col(f, TLONG, 1, row, 1, 1, &id, &status);
        fits_write_col(f, TSTRING, 2, row, 1, 1, &lp, &status);
        fits_write_col(f, TFLOAT, 3, row, 1, 3, vec, &status);
        if (nvla)
            fits_write_col(f, TLONG, 4, row, 1, nvla, vla, &status);
        if (nvld)
            fits_write_col(f, TDOUBLE, 5, row, 1, nvld, vld, &status);
        fits_write_col(f, TLOGICAL, 6, row, 1, 1, &flag, &status);
        fits_write_col(f, TCOMPLEX, 7, row, 1, 1, cplx, &status);
        if (nvlq)
            fits_write_col(f, TSHORT, 8, row, 1, nvlq, vlq, &status);
        check(status, "fits_write_col");
    }
    /* an empty table after it: NAXIS2 = 0, no data */
    char *t2[] = {"X"};
    char *f2[] = {"1D"};
    fits_create_tbl(f, BINARY_TBL, 0, 1, t2, f2, NULL, "EMPTYTAB", &status);
    check(status, "empty table");
    finish(f, name);
}

static void random_groups(void)
{
    const char *name = "random_groups.fits";
    int status = 0;
    long naxes[3] = {0, 3, 4};
    enum { PCOUNT = 2, GCOUNT = 10 };
    fitsfile *f = create(name);
    fits_write_grphdr(f, 1, FLOAT_IMG, 3, naxes, PCOUNT, GCOUNT, 1, &status);
    check(status, "fits_write_grphdr");
    fits_write_key_str(f, "PTYPE1", "UU", "first group parameter", &status);
    fits_write_key_str(f, "PTYPE2", "VV", "second group parameter", &status);
    fits_write_key_str(f, "CTYPE2", "COMPLEX", NULL, &status);
    check(status, "PTYPE");
    for (long g = 1; g <= GCOUNT; g++) {
        float par[PCOUNT] = {(float)g, (float)-g};
        float data[12];
        for (int i = 0; i < 12; i++)
            data[i] = (float)(g * 100 + i);
        fits_write_grppar_flt(f, g, 1, PCOUNT, par, &status);
        fits_write_img_flt(f, g, 1, 12, data, &status);
        check(status, "group data");
    }
    finish(f, name);
}

static void many_extensions(void)
{
    const char *name = "many_ext.fits";
    int status = 0;
    fitsfile *f = create(name);
    fits_create_img(f, 8, 0, NULL, &status);
    check(status, "primary");
    for (int i = 0; i < 50; i++) {
        long naxes[2] = {i + 1, 3};
        char extname[16];
        snprintf(extname, sizeof extname, "EXT%02d", i + 1);
        int bitpix = (i % 2) ? SHORT_IMG : DOUBLE_IMG;
        fits_create_img(f, bitpix, 2, naxes, &status);
        fits_write_key_str(f, "EXTNAME", extname, NULL, &status);
        check(status, "extension");
        write_ramp(f, bitpix, 2, naxes);
    }
    finish(f, name);
}

/* Tile-compressed images: BINTABLEs with ZIMAGE = T and a heap, which CFITSIO
 * presents as images. */
static void compressed_images(void)
{
    const char *name = "compressed.fits";
    int status = 0;
    long naxes[2] = {200, 100};
    static short img[200 * 100];
    static float fimg[200 * 100];
    for (int i = 0; i < 200 * 100; i++) {
        img[i] = (short)(i % 1000);
        fimg[i] = (float)(i % 777) * 0.25f;
    }
    fitsfile *f = create(name);
    fits_create_img(f, 8, 0, NULL, &status);
    fits_set_compression_type(f, RICE_1, &status);
    fits_create_img(f, SHORT_IMG, 2, naxes, &status);
    fits_write_img(f, TSHORT, 1, 200 * 100, img, &status);
    check(status, "RICE_1 image");
    fits_set_compression_type(f, GZIP_1, &status);
    fits_create_img(f, FLOAT_IMG, 2, naxes, &status);
    fits_write_img(f, TFLOAT, 1, 200 * 100, fimg, &status);
    check(status, "GZIP_1 image");
    finish(f, name);
}

/* Every keyword form CFITSIO writes, plus raw cards for the rest. */
static void write_keyword_zoo(fitsfile *f)
{
    int status = 0;
    double cmp[2] = {1.5, -2.25};
    float fcmp[2] = {3.0f, 4.5f};
    char longval[400];
    size_t n = 0;
    for (int i = 0; n + 40 < sizeof longval; i++)
        n += (size_t)snprintf(longval + n, sizeof longval - n, "segment %02d of a long string; ", i);

    fits_write_key_log(f, "LOGT", 1, "logical true", &status);
    fits_write_key_log(f, "LOGF", 0, "logical false", &status);
    fits_write_key_lng(f, "INTPOS", 42, "an integer", &status);
    fits_write_key_lng(f, "INTNEG", -123456789L, "a negative integer", &status);
    fits_write_key_lng(f, "INTMAX", 9223372036854775807LL, "i64::MAX", &status);
    fits_write_key_lng(f, "INTMIN", (-9223372036854775807LL - 1), "i64::MIN", &status);
    fits_write_key_dbl(f, "REALE", 6.02214076e23, 10, "E exponent", &status);
    fits_write_key_dbl(f, "REALNEG", -1.5e-300, 8, NULL, &status);
    fits_write_key_fixdbl(f, "REALFIX", 3.14159265358979, 6, "fixed format", &status);
    fits_write_key_flt(f, "REALFLT", 0.1f, 7, "float", &status);
    fits_write_key_dblcmp(f, "CMPLXD", cmp, 12, "double complex", &status);
    fits_write_key_cmp(f, "CMPLXF", fcmp, 5, "float complex", &status);
    fits_write_key_str(f, "STR", "hello", "a string", &status);
    fits_write_key_str(f, "STRQ", "O'Hara's 'quoted' text", "embedded quotes", &status);
    fits_write_key_str(f, "STREMPTY", "", "empty string", &status);
    fits_write_key_str(f, "STRSP", "  leading spaces", NULL, &status);
    fits_write_key_null(f, "UNDEF", "undefined value", &status);
    fits_write_key_dbl(f, "VELO", 12.5, 6, "velocity", &status);
    fits_write_key_unit(f, "VELO", "km/s", &status);
    check(status, "basic keywords");

    fits_write_key_longwarn(f, &status);
    fits_write_key_longstr(f, "LONGSTR", longval, "a string longer than one card", &status);
    check(status, "fits_write_key_longstr");

    fits_write_key_str(f, "HIERARCH ESO DET CHIP NAME", "CCD-42", "HIERARCH string", &status);
    fits_write_key_dbl(f, "HIERARCH ESO TEL AIRM START", 1.234, 4, NULL, &status);
    fits_write_key_lng(f, "LONGKEYWORDNAME", 7, "implicit HIERARCH", &status);
    check(status, "HIERARCH");

    fits_write_comment(f, "a COMMENT card written by fits_write_comment", &status);
    fits_write_history(f, "a HISTORY card written by fits_write_history", &status);
    fits_write_comment(f, "a comment long enough that CFITSIO has to split it over more than one card because "
                          "it is longer than seventy-two characters", &status);
    check(status, "commentary");

    /* forms the keyword API does not write */
    fits_write_record(f, "DEXP    =              1.5D+03 / D exponent", &status);
    fits_write_record(f, "DEXPNEG =            -2.5D-304 / negative D exponent", &status);
    fits_write_record(f, "ICMPLX  =              (3, -4) / integer complex", &status);
    fits_write_record(f, "RCMPLX  = (1.0E2, -0.5D1)      / real complex, mixed exponents", &status);
    fits_write_record(f, "        blank keyword: commentary text", &status);
    fits_write_record(f, "NOVALUE  no value indicator, so this is commentary", &status);
    fits_write_record(f, "FREEINT =                   17", &status);
    fits_write_record(f, "FREESTR = 'free format'  / string without comment alignment", &status);
    fits_write_record(f, "TRAILSP = 'abc     '           / trailing spaces are insignificant", &status);
    fits_write_record(f, "PLUSINT =                  +12 / explicit plus sign", &status);
    fits_write_record(f, "DOTREAL =                  .5  / no leading digit", &status);
    check(status, "raw records");

    fits_write_date(f, &status);
    check(status, "fits_write_date");
}

static void keyword_zoo(void)
{
    const char *name = "keywords.fits";
    int status = 0;
    long naxes[1] = {10};
    fitsfile *f = create(name);
    fits_create_img(f, 8, 0, NULL, &status);
    check(status, "primary");
    write_keyword_zoo(f);
    fits_create_img(f, SHORT_IMG, 1, naxes, &status);
    check(status, "extension");
    write_keyword_zoo(f);
    write_ramp(f, SHORT_IMG, 1, naxes);
    fits_write_chksum(f, &status);
    check(status, "fits_write_chksum");
    finish(f, name);
}

/* A primary header of exactly 1000 cards before END (the benchmark header). */
static void header1000(void)
{
    const char *name = "header1000.fits";
    int status = 0, nkeys = 0;
    fitsfile *f = create(name);
    fits_create_img(f, 16, 0, NULL, &status);
    check(status, "primary");
    for (int i = 0;; i++) {
        char key[16];
        fits_get_hdrspace(f, &nkeys, NULL, &status);
        check(status, "fits_get_hdrspace");
        if (nkeys >= 1000)
            break;
        snprintf(key, sizeof key, "K%07d", i);
        switch (i % 6) {
        case 0:
            fits_write_key_lng(f, key, (long)i * 7919 - 100000, "an integer keyword", &status);
            break;
        case 1:
            fits_write_key_dbl(f, key, i * 1.000001e-3, 12, "a real keyword", &status);
            break;
        case 2:
            fits_write_key_str(f, key, "some string value", "a string keyword", &status);
            break;
        case 3:
            fits_write_key_log(f, key, i % 4 == 3, "a logical keyword", &status);
            break;
        case 4:
            fits_write_history(f, "a history card of the benchmark header", &status);
            break;
        default:
            fits_write_key_fixdbl(f, key, -i * 0.5, 4, "a fixed real keyword", &status);
            break;
        }
        check(status, "benchmark keyword");
    }
    finish(f, name);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mkfits OUTDIR\n");
        return 2;
    }
    outdir = argv[1];
    primary_images();
    unsigned_image();
    image_extensions();
    ascii_table();
    bintable_vla();
    random_groups();
    many_extensions();
    compressed_images();
    keyword_zoo();
    header1000();
    return 0;
}
