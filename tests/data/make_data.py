#!/usr/bin/env python3
"""Writes the hand-made FITS files of tests/data/ (run from anywhere; no dependencies).

Valid files are checked against CFITSIO by tests/tests/fits_vs_cfitsio.rs; the invalid ones
(names starting with "bad_") carry their expected error in that test's table. Each file is
made here byte by byte so that the defects are exactly where the table says.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def card(text):
    assert len(text) <= 80, text
    return text.ljust(80).encode("ascii")


def kv(key, value, comment=None):
    """A fixed-format card: numbers and logicals right-justified to column 30."""
    if isinstance(value, bool):
        v = "T" if value else "F"
    else:
        v = str(value)
    if isinstance(value, str) and value.startswith("'"):
        body = f"{key:<8}= {v}"
    else:
        body = f"{key:<8}= {v:>20}"
    if comment is not None:
        body += f" / {comment}"
    return card(body)


def header(cards, end=True):
    raw = b"".join(cards)
    if end:
        raw += card("END")
    pad = (-len(raw)) % 2880
    return raw + b" " * pad


def pad_data(data):
    return data + b"\0" * ((-len(data)) % 2880)


def write(name, content):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(content)


def primary(bitpix, axes, extra=()):
    cards = [kv("SIMPLE", True), kv("BITPIX", bitpix), kv("NAXIS", len(axes))]
    cards += [kv(f"NAXIS{i + 1}", n) for i, n in enumerate(axes)]
    return cards + list(extra)


def main():
    # minimal valid file: the smallest primary HDU there is
    write("minimal.fits", header(primary(8, [])))

    # primary + IMAGE extension + BINTABLE
    img = struct.pack(">6h", 1, -2, 3, -4, 5, -6)
    table = struct.pack(">4i", 10, 20, 30, 40)
    write(
        "primary_2ext.fits",
        header(primary(16, [], [kv("EXTEND", True)]))
        + header(
            [
                kv("XTENSION", "'IMAGE   '", "image extension"),
                kv("BITPIX", 16),
                kv("NAXIS", 2),
                kv("NAXIS1", 3),
                kv("NAXIS2", 2),
                kv("PCOUNT", 0),
                kv("GCOUNT", 1),
                kv("EXTNAME", "'SCI     '"),
            ]
        )
        + pad_data(img)
        + header(
            [
                kv("XTENSION", "'BINTABLE'", "binary table"),
                kv("BITPIX", 8),
                kv("NAXIS", 2),
                kv("NAXIS1", 4),
                kv("NAXIS2", 4),
                kv("PCOUNT", 0),
                kv("GCOUNT", 1),
                kv("TFIELDS", 1),
                kv("TTYPE1", "'COUNT   '"),
                kv("TFORM1", "'1J      '"),
                kv("EXTNAME", "'TAB     '"),
            ]
        )
        + pad_data(table),
    )

    # blank cards between the last keyword and END (reserved header space)
    write(
        "blank_before_end.fits",
        header(primary(8, [], [kv("OBJECT", "'blank   '")] + [card("")] * 5)),
    )

    # NAXIS = 999, every axis 1: the largest header layout FITS allows (1 byte of data).
    # CFITSIO 4.2.0 (and fitsverify) crash with SIGSEGV opening a primary with NAXIS >= 104,
    # so this one is checked against our parser only; naxis_99.fits is compared with CFITSIO.
    write("naxis_999.fits", header(primary(8, [1] * 999)) + pad_data(b"\x2a"))
    write("naxis_99.fits", header(primary(16, [1] * 98 + [3])) + pad_data(b"\x00\x01" * 3))

    # a conforming extension of a type neither we nor CFITSIO know
    write(
        "foreign_ext.fits",
        header(primary(8, [], [kv("EXTEND", True)]))
        + header(
            [
                kv("XTENSION", "'FOREIGN '", "not a standard extension"),
                kv("BITPIX", 8),
                kv("NAXIS", 1),
                kv("NAXIS1", 100),
                kv("PCOUNT", 0),
                kv("GCOUNT", 1),
            ]
        )
        + pad_data(bytes(range(100))),
    )

    # card forms at the edges of FITS 4.0 §4.2, each compared with CFITSIO's reading
    edge = [
        card("SLASHSTR= 'a/b/c'              / a slash inside the string"),
        card("QUOTEEND= 'ends with a quote'''"),
        card("ONLYQUOT= ''''"),
        card("NOSPCOMM=                    5 /no space after the slash"),
        card("LOGCOMM =                    T/adjacent comment"),
        card("LEADZERO=                  007"),
        card("NEGZERO =                   -0"),
        card("TRAILDOT=                   1."),
        card("INTEXP  =                  1E5"),
        card("SIGNEXP =             +.5E-003"),
        card("CPLXSP  = (  1 ,   2  )"),
        card("CPLXREAL= (-1.5E+2, 0.25)"),
        card("KEY-DASH= 'dash'"),
        card("KEY_UNDR= 'underscore'"),
        card("LATESTR =        'string starting late'"),
        card("LATELOG =                                  T / logical far right"),
        card("EMPTYCOM=                    1 /"),
        card("HISTORY lower case history, with 'quotes' and = signs = here"),
        card("COMMENT"),
        card("HISTORY"),
        card("SPACES  = '   '"),
        card("UNDEFCOM=  / only a comment"),
        card("BIGNEG  =         -12345678901"),
        card("TINYREAL=              1.0D-99"),
        card("HIERARCH A B C = 'hierarch short'"),
        card("HIERARCH ESO INS OPTI-3 ID = 12 / dashes in HIERARCH"),
    ]
    write("cards_edge.fits", header(primary(8, [], edge)))

    # ---- invalid files: the expected errors are in fits_vs_cfitsio.rs ----

    # data cut short: the header says 100x10 16-bit pixels (2000 bytes), the file has 1000
    write("bad_truncated_data.fits", header(primary(16, [100, 10])) + b"\0" * 1000)

    # the second HDU's header stops in the middle of its first block
    write(
        "bad_truncated_header.fits",
        header(primary(8, [], [kv("EXTEND", True)]))
        + header([kv("XTENSION", "'IMAGE   '"), kv("BITPIX", 8), kv("NAXIS", 0),
                  kv("PCOUNT", 0), kv("GCOUNT", 1)])[:1000],
    )

    # no END card anywhere: one full block of keywords
    cards = primary(8, [])
    cards += [kv(f"KEY{i:05d}", i) for i in range(36 - len(cards))]
    write("bad_missing_end.fits", header(cards, end=False))

    # BITPIX 12 is not one of 8, 16, 32, 64, -32, -64 (card 1)
    write("bad_bitpix.fits", header(primary(12, [])))

    # 3 axes of 2^32 64-bit pixels: 2^99 bytes, the size overflows 64 bits at NAXIS2
    # (card 4, byte 320: 2^32 * 2^32), where the error must point
    write("bad_naxis_overflow.fits", header(primary(64, [2**32] * 3)))

    # a BEL control byte inside the comment of card 3, column 32 (byte 3*80+31 = 271)
    raw = bytearray(header(primary(8, [], [kv("OBJECT", "'bell    '", "ring the bell here")])))
    assert raw[3 * 80 + 23 : 3 * 80 + 41] == b"ring the bell here"
    raw[3 * 80 + 31] = 0x07
    write("bad_control_byte.fits", bytes(raw))

    # NAXIS before BITPIX: mandatory keywords out of order (card 1)
    write(
        "bad_order.fits",
        header([kv("SIMPLE", True), kv("NAXIS", 0), kv("BITPIX", 8)]),
    )


if __name__ == "__main__":
    main()
