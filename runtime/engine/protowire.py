"""The protobuf wire format, read without a schema or the protobuf package: enough to walk an ONNX file's
messages (``runtime.onnx_external``) and read its metadata before onnxruntime opens it. Values are views into
the file's bytes, never copies, so a large model is walked cheaply."""

from __future__ import annotations

from collections.abc import Iterator

MODEL_METADATA = 14  # ModelProto.metadata_props: StringStringEntryProto {key = 1, value = 2}


def varint(data: memoryview, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data) or shift > 63:
            raise ValueError("a truncated number")
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at, shift = at + 1, shift + 7
        if not byte & 0x80:
            return value, at


def fields(data: memoryview) -> Iterator[tuple[int, memoryview | int]]:
    """(field number, value) of one message: a view for length-delimited fields (no copy), an int otherwise."""
    at = 0
    while at < len(data):
        key, at = varint(data, at)
        number, kind = key >> 3, key & 7
        if kind == 0:
            value, at = varint(data, at)
        elif kind == 1:
            value, at = 0, at + 8
        elif kind == 5:
            value, at = 0, at + 4
        elif kind == 2:
            size, at = varint(data, at)
            if at + size > len(data):
                raise ValueError("a field longer than the file")
            value, at = data[at: at + size], at + size
        else:
            raise ValueError(f"wire type {kind}")
        yield number, value


def onnx_metadata(model: bytes) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX file (key to value); ValueError for bytes that are not protobuf."""
    found = {}
    for number, entry in fields(memoryview(model)):
        if number == MODEL_METADATA and isinstance(entry, memoryview):
            parts = {k: bytes(v).decode("utf-8", "replace") for k, v in fields(entry) if isinstance(v, memoryview)}
            found[parts.get(1, "")] = parts.get(2, "")
    return found
