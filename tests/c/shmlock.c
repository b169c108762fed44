/*
 * shmlock: open a shmem:// file with CFITSIO and hold it open (and so hold
 * its lock) until standard input reaches end of file or SIGTERM/SIGINT arrives.
 *
 * Usage: shmlock NAME [rw|ro]       (default rw: READWRITE = exclusive lock)
 *
 * CFITSIO waits while another process holds a conflicting lock, so "locked"
 * tells the test that CFITSIO has got it. Protocol on stdout, one line each:
 *   locked <size of the FITS file in bytes>   once the file is open
 *   closed                                    after fits_close_file
 * Exits 1 (with the CFITSIO message on stderr) if the open fails.
 * Set SHMEM_LIB_KEYBASE / SHMEM_LIB_MAXSEG to choose the key range.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <fitsio.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    fitsfile *f = NULL;
    int status = 0, mode = READWRITE;
    if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "rw") && strcmp(argv[2], "ro"))) {
        fprintf(stderr, "usage: shmlock NAME [rw|ro]\n");
        return 2;
    }
    if (argc == 3 && !strcmp(argv[2], "ro"))
        mode = READONLY;

    /* no SA_RESTART: a signal interrupts read() below, and we close cleanly */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    fits_open_file(&f, argv[1], mode, &status);
    if (status) {
        char msg[FLEN_ERRMSG];
        fits_get_errstatus(status, msg);
        fprintf(stderr, "shmlock: cannot open %s: status %d: %s\n", argv[1], status, msg);
        return 1;
    }
    LONGLONG size = 0;
    int nhdus = 0;
    fits_get_num_hdus(f, &nhdus, &status);
    fits_movabs_hdu(f, nhdus, NULL, &status);
    fits_get_hduaddrll(f, NULL, NULL, &size, &status);
    printf("locked\t%lld\n", status ? -1LL : size);
    fflush(stdout);

    char buf[256];
    while (!stop) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n == 0 || (n < 0 && errno != EINTR))
            break;
    }
    status = 0;
    fits_close_file(f, &status);
    printf("closed\n");
    fflush(stdout);
    return status ? 1 : 0;
}
