"""An image file's width and height from its header, read before decoding, so that a hostile file that claims
a huge size (a decompression bomb) is refused without allocating its pixels. PNG, JPEG and BMP: the formats
``read_image`` takes."""

from __future__ import annotations

import os
import struct

from edgeward.core.errors import InputError

# 64 megapixels (8192 x 8192): far above any camera or dataset image edgeward handles, and 192 MiB as BGR.
MAX_IMAGE_PIXELS = 8192 * 8192

_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def image_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(width, height) that the file's header declares, or None when the header says nothing readable (the
    decoder then has its say)."""
    with open(path, "rb") as f:
        head = f.read(32)
        if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR" and len(head) >= 24:
            return struct.unpack(">II", head[16:24])
        if head.startswith(b"BM") and len(head) >= 26:
            if struct.unpack("<I", head[14:18])[0] == 12:  # the old OS/2 header: 16-bit sizes
                return struct.unpack("<HH", head[18:22])
            width, height = struct.unpack("<ii", head[18:26])
            return abs(width), abs(height)  # a negative height is a top-down bitmap
        if head.startswith(b"\xff\xd8"):
            return _jpeg_size(f)
    return None


def _jpeg_size(f) -> tuple[int, int] | None:
    """Walks the JPEG segments (each: 0xFF, marker, 2-byte length) to the frame header (SOFn)."""
    f.seek(2)
    for _ in range(10_000):  # segments before the frame header: a bound, not a real limit
        if f.read(1) != b"\xff":
            return None
        byte = f.read(1)
        while byte == b"\xff":  # fill bytes before a marker
            byte = f.read(1)
        if not byte:
            return None
        marker = byte[0]
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            continue
        raw = f.read(2)
        if len(raw) < 2:
            return None
        length = struct.unpack(">H", raw)[0]
        if marker in _JPEG_SOF:
            frame = f.read(5)
            if len(frame) < 5:
                return None
            height, width = struct.unpack(">HH", frame[1:5])
            return width, height
        if marker == 0xDA or length < 2:  # the scan began without a frame header, or a broken length
            return None
        f.seek(length - 2, os.SEEK_CUR)
    return None


def check_image_size(path: str | os.PathLike, limit: int = MAX_IMAGE_PIXELS) -> None:
    """Raises ``InputError`` when the header declares more than ``limit`` pixels."""
    size = image_size(path)
    if size and size[0] * size[1] > limit:
        raise InputError(f"{path}: the image declares {size[0]} x {size[1]} pixels; expected at most "
                         f"{limit:,} pixels ({limit / 1e6:.0f} MP), refused before decoding")
