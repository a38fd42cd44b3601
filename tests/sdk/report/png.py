"""A minimal PNG reader (stdlib zlib) for checking screenshots: 8-bit greyscale/RGB/RGBA, no interlace."""

from __future__ import annotations

import struct
import zlib
from collections import Counter

_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


def decode(data: bytes) -> tuple[int, int, int, bytes]:
    """``(width, height, channels, raw pixel bytes)`` after undoing the per-row filters."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    position, idat, header = 8, b"", None
    while position < len(data):
        (length,) = struct.unpack(">I", data[position:position + 4])
        kind = data[position + 4:position + 8]
        body = data[position + 8:position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    if header is None:
        raise ValueError("PNG without IHDR")
    width, height, depth, color, _, _, interlace = header
    if depth != 8 or color not in _CHANNELS or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {color}, interlace {interlace}")
    channels = _CHANNELS[color]
    return width, height, channels, _unfilter(zlib.decompress(idat), width, height, channels)


def _unfilter(raw: bytes, width: int, height: int, bpp: int) -> bytes:
    stride = width * bpp
    out = bytearray(stride * height)
    previous = bytearray(stride)
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = previous[i]
            corner = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        out[row * stride:(row + 1) * stride] = line
        previous = line
    return bytes(out)


def colours(data: bytes, step: int = 7) -> Counter[tuple[int, ...]]:
    """RGB colours of every ``step``-th pixel (sampling keeps the pure-Python decode quick)."""
    width, height, channels, pixels = decode(data)
    counts: Counter[tuple[int, ...]] = Counter()
    for index in range(0, width * height, step):
        pixel = pixels[index * channels:(index + 1) * channels]
        counts[tuple(pixel[:3]) if channels >= 3 else (pixel[0],) * 3] += 1
    return counts
