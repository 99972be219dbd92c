"""Read the metadata entries of a .tflite flatbuffer without TensorFlow.

TFLite's schema: the root ``Model`` table has ``buffers`` (field 4) and ``metadata`` (field 6), a
vector of ``Metadata {name: string; buffer: uint}``; a ``Buffer`` has ``data: [ubyte]`` (field 0) or,
for files over 2 GB, ``offset``/``size`` (fields 1, 2) into the file.
"""

from __future__ import annotations

import struct

from edgeward.core.errors import ModelFileError


def _u32(data: bytes, pos: int) -> int:
    return struct.unpack_from("<I", data, pos)[0]


def _field(data: bytes, table: int, index: int) -> int | None:
    """Absolute position of field ``index`` of the table at ``table``, or None if absent."""
    vtable = table - struct.unpack_from("<i", data, table)[0]
    vt_size = struct.unpack_from("<H", data, vtable)[0]
    slot = 4 + 2 * index
    if slot >= vt_size:
        return None
    offset = struct.unpack_from("<H", data, vtable + slot)[0]
    return table + offset if offset else None


def _vector(data: bytes, pos: int) -> tuple[int, int]:
    start = pos + _u32(data, pos)
    return start + 4, _u32(data, start)


def read_metadata(data: bytes, source: str = "model") -> dict[str, bytes]:
    """``{name: bytes}`` for every metadata entry of a TFLite model."""
    try:
        root = _u32(data, 0)
        meta_field = _field(data, root, 6)
        if meta_field is None:
            return {}
        buffers_field = _field(data, root, 4)
        buf_start, buf_count = _vector(data, buffers_field)
        meta_start, meta_count = _vector(data, meta_field)
        entries = {}
        for i in range(meta_count):
            elem = meta_start + 4 * i
            table = elem + _u32(data, elem)
            name_pos = _field(data, table, 0)
            s_start, s_len = _vector(data, name_pos)
            name = data[s_start : s_start + s_len].decode()
            index_pos = _field(data, table, 1)
            index = _u32(data, index_pos) if index_pos is not None else 0
            if index >= buf_count:
                raise ModelFileError(f"{source}: metadata '{name}' points to buffer {index} of {buf_count}")
            belem = buf_start + 4 * index
            btable = belem + _u32(data, belem)
            data_pos = _field(data, btable, 0)
            if data_pos is not None:
                d_start, d_len = _vector(data, data_pos)
                entries[name] = bytes(data[d_start : d_start + d_len])
            else:
                off_pos, size_pos = _field(data, btable, 1), _field(data, btable, 2)
                off = struct.unpack_from("<Q", data, off_pos)[0] if off_pos else 0
                size = struct.unpack_from("<Q", data, size_pos)[0] if size_pos else 0
                entries[name] = bytes(data[off : off + size])
        return entries
    except (struct.error, IndexError, UnicodeDecodeError, TypeError) as exc:
        raise ModelFileError(f"{source}: not a readable TFLite flatbuffer ({exc})") from None
