/*
 * listhdus: print CFITSIO's view of every HDU of a FITS file, one fact per
 * line, tab-separated, so that tests can compare it with our parser.
 *
 * Usage: listhdus FILE          (FILE may be any CFITSIO name, e.g. shmem://h2)
 *
 * Output (fields are escaped: backslash -> \\, tab -> \t, newline -> \n,
 * other bytes outside 0x20..0x7e -> \xHH):
 *   FILE   <number of HDUs>
 *   HDU    <index from 0> <hdutype 0=IMAGE 1=ASCII 2=BINARY> <headstart> <datastart> <dataend> <nkeys>
 *   IMAGE  <bitpix> <naxis> <naxis1> ...            (IMAGE_HDU only, fits_get_img_param)
 *   TABLE  <nrows> <ncols>                          (tables only)
 *   CARD   <number from 1> <name> <value> <comment> <type> <card>
 *            name/value/comment from fits_get_keyname/fits_parse_value,
 *            type from fits_get_keytype (C L I F X) or U when the value is empty,
 *            card from fits_read_record
 *   LSTR   <number from 1> <value>                  after a CARD whose string value ends
 *            with &' (a long string): the whole string from fits_read_key_longstr,
 *            quotes removed and '' unescaped (the first card with that name)
 *   END
 * On any CFITSIO error: "ERROR <status> <message>" and exit status 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fitsio.h>

static void put_escaped(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\\')
            fputs("\\\\", stdout);
        else if (*p == '\t')
            fputs("\\t", stdout);
        else if (*p == '\n')
            fputs("\\n", stdout);
        else if (*p < 0x20 || *p > 0x7e)
            printf("\\x%02x", *p);
        else
            putchar(*p);
    }
}

static void fail(int status)
{
    char msg[FLEN_ERRMSG];
    fits_get_errstatus(status, msg);
    printf("ERROR\t%d\t", status);
    put_escaped(msg);
    while (fits_read_errmsg(msg)) {
        fputs(" | ", stdout);
        put_escaped(msg);
    }
    putchar('\n');
    exit(1);
}

int main(int argc, char **argv)
{
    fitsfile *f = NULL;
    int status = 0, nhdus = 0;
    if (argc != 2) {
        fprintf(stderr, "usage: listhdus FILE\n");
        return 2;
    }
    if (fits_open_file(&f, argv[1], READONLY, &status))
        fail(status);
    if (fits_get_num_hdus(f, &nhdus, &status))
        fail(status);
    printf("FILE\t%d\n", nhdus);
    for (int h = 1; h <= nhdus; h++) {
        int hdutype = 0, nkeys = 0;
        LONGLONG headstart = 0, datastart = 0, dataend = 0;
        if (fits_movabs_hdu(f, h, &hdutype, &status))
            fail(status);
        if (fits_get_hduaddrll(f, &headstart, &datastart, &dataend, &status))
            fail(status);
        if (fits_get_hdrspace(f, &nkeys, NULL, &status))
            fail(status);
        printf("HDU\t%d\t%d\t%lld\t%lld\t%lld\t%d\n", h - 1, hdutype, headstart, datastart,
               dataend, nkeys);
        if (hdutype == IMAGE_HDU) {
            int bitpix = 0, naxis = 0;
            LONGLONG naxes[999];
            if (fits_get_img_paramll(f, 999, &bitpix, &naxis, naxes, &status))
                fail(status);
            printf("IMAGE\t%d\t%d", bitpix, naxis);
            for (int i = 0; i < naxis && i < 999; i++)
                printf("\t%lld", naxes[i]);
            putchar('\n');
        } else {
            LONGLONG nrows = 0;
            int ncols = 0;
            if (fits_get_num_rowsll(f, &nrows, &status) || fits_get_num_cols(f, &ncols, &status))
                fail(status);
            printf("TABLE\t%lld\t%d\n", nrows, ncols);
        }
        for (int k = 1; k <= nkeys; k++) {
            char card[FLEN_CARD], name[FLEN_CARD], value[FLEN_CARD], comment[FLEN_CARD];
            char dtype = 'U';
            int namelen = 0, st = 0;
            if (fits_read_record(f, k, card, &status))
                fail(status);
            name[0] = value[0] = comment[0] = '\0';
            fits_get_keyname(card, name, &namelen, &st);
            /* parse_value fails on malformed values; report them as '?' */
            if (fits_parse_value(card, value, comment, &st) == 0) {
                if (value[0] && fits_get_keytype(value, &dtype, &st))
                    dtype = '?';
            } else {
                dtype = '?';
            }
            printf("CARD\t%d\t", k);
            put_escaped(name);
            putchar('\t');
            put_escaped(value);
            putchar('\t');
            put_escaped(comment);
            printf("\t%c\t", dtype);
            put_escaped(card);
            putchar('\n');
            size_t vlen = strlen(value);
            if (dtype == 'C' && vlen >= 2 && value[vlen - 2] == '&' && value[vlen - 1] == '\'') {
                char *longstr = NULL;
                int ls = 0;
                if (fits_read_key_longstr(f, name, &longstr, NULL, &ls) == 0 && longstr) {
                    printf("LSTR\t%d\t", k);
                    put_escaped(longstr);
                    putchar('\n');
                }
                if (longstr)
                    fits_free_memory(longstr, &ls);
            }
        }
    }
    fits_close_file(f, &status);
    if (status)
        fail(status);
    puts("END");
    return 0;
}
