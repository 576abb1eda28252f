#!/usr/bin/env python3
"""Checks that a PNG screenshot shows a rendered page: the expected size, and not blank.

Usage: check_png.py FILE.png WIDTH HEIGHT

Decodes the PNG with the standard library alone (8-bit RGB or RGBA, no interlacing: what
Chromium writes) and requires (1) WIDTH x HEIGHT pixels, and in the top 800 rows (what a
reader sees first; decoding all of a tall page in Python takes seconds) (2) at least 16
distinct colours, (3) at least 3% of the pixels away from the most common colour (the
background), and (4) some pixel in the top 100 rows away from it (the page's header drew).
Exit 0 if all holds.
"""
import struct
import sys
import zlib


def decode(path, max_rows=None):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace != 0:
        raise ValueError("unsupported PNG (depth %d, colour type %d, interlace %d)" %
                         (depth, colour, interlace))
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous, at = [], bytearray(stride), 0
    for _ in range(height if max_rows is None else min(height, max_rows)):
        kind = raw[at]
        line = bytearray(raw[at + 1:at + 1 + stride])
        at += 1 + stride
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = previous[i]
            c = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + ((a + b) >> 1)) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
        rows.append(bytes(line))
        previous = line
    return width, height, channels, rows


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    path, want_w, want_h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    try:
        width, height, channels, rows = decode(path, max_rows=800)
    except (OSError, ValueError, TypeError, zlib.error) as e:
        print("check_png: %s: cannot read it: %s" % (path, e))
        return 1
    problems = []
    if (width, height) != (want_w, want_h):
        problems.append("size %dx%d, expected %dx%d" % (width, height, want_w, want_h))
    counts = {}
    top_colours = set()
    for y, row in enumerate(rows):
        for x in range(0, len(row), channels * 2):  # every other pixel is plenty
            px = row[x:x + 3]
            counts[px] = counts.get(px, 0) + 1
            if y < 100:
                top_colours.add(px)
    total = sum(counts.values())
    background, most = max(counts.items(), key=lambda kv: kv[1])
    if len(counts) < 16:
        problems.append("only %d distinct colours" % len(counts))
    if total - most < 0.03 * total:
        problems.append("%.2f%% of the pixels differ from the background" %
                        (100.0 * (total - most) / total))
    if top_colours <= {background}:
        problems.append("the top 100 rows are blank")
    for p in problems:
        print("check_png: %s: %s" % (path, p))
    if not problems:
        print("check_png: %s: %dx%d, %d colours, %.1f%% of the pixels drawn" %
              (path, width, height, len(counts), 100.0 * (total - most) / total))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
