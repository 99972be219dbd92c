"""Where an ONNX model's tensors keep their data outside the file (ONNX "external data"), found by reading the
protobuf wire format directly: the runtime does not need the ``onnx`` package, and a hostile file is checked
before onnxruntime opens it.

A reference that leaves the model's folder (``../``, an absolute path, a drive) would let a model file read any
file on the device into its weights, and from there into its outputs; ``check_external_data`` refuses it,
whatever the onnxruntime version does.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import PurePosixPath, PureWindowsPath

from edgeward.core.errors import ModelFileError
from edgeward.runtime.engine.protowire import fields as _fields

# field numbers of onnx.proto3 that lead to a TensorProto
MODEL_GRAPH, MODEL_FUNCTIONS = 7, 25
GRAPH_NODES, GRAPH_INITIALIZERS, GRAPH_SPARSE = 1, 5, 15
FUNCTION_NODES = 7
NODE_ATTRIBUTES = 5
ATTR_TENSOR, ATTR_GRAPH, ATTR_TENSORS, ATTR_GRAPHS, ATTR_SPARSE, ATTR_SPARSES = 5, 6, 10, 11, 22, 23
SPARSE_VALUES, SPARSE_INDICES = 1, 2
TENSOR_NAME, TENSOR_EXTERNAL, TENSOR_LOCATION = 8, 13, 14
ENTRY_KEY, ENTRY_VALUE = 1, 2
MAX_DEPTH = 64  # graphs nested in graphs (If, Loop): far beyond any real model


def _tensor(data: memoryview) -> tuple[str, str] | None:
    """(tensor name, external location) of a TensorProto that keeps its data outside, else None."""
    name, external, location = "", False, ""
    for number, value in _fields(data):
        if number == TENSOR_NAME and isinstance(value, memoryview):
            name = bytes(value).decode("utf-8", "replace")
        elif number == TENSOR_LOCATION and value == 1:
            external = True
        elif number == TENSOR_EXTERNAL and isinstance(value, memoryview):
            entry = {k: bytes(v) for k, v in _fields(value) if isinstance(v, memoryview)}
            if entry.get(ENTRY_KEY) == b"location":
                location = entry.get(ENTRY_VALUE, b"").decode("utf-8", "replace")
    return (name, location) if external or location else None


def _sparse(data: memoryview) -> Iterator[tuple[str, str]]:
    for number, value in _fields(data):
        if number in (SPARSE_VALUES, SPARSE_INDICES) and isinstance(value, memoryview) and (found := _tensor(value)):
            yield found


def _nodes(data: memoryview, field: int, depth: int) -> Iterator[tuple[str, str]]:
    for number, node in _fields(data):
        if number != field or not isinstance(node, memoryview):
            continue
        for a_number, attribute in _fields(node):
            if a_number != NODE_ATTRIBUTES or not isinstance(attribute, memoryview):
                continue
            for t_number, value in _fields(attribute):
                if not isinstance(value, memoryview):
                    continue
                if t_number in (ATTR_TENSOR, ATTR_TENSORS) and (found := _tensor(value)):
                    yield found
                elif t_number in (ATTR_SPARSE, ATTR_SPARSES):
                    yield from _sparse(value)
                elif t_number in (ATTR_GRAPH, ATTR_GRAPHS):
                    yield from _graph(value, depth + 1)


def _graph(data: memoryview, depth: int = 0) -> Iterator[tuple[str, str]]:
    if depth > MAX_DEPTH:
        raise ValueError(f"graphs nested more than {MAX_DEPTH} deep")
    for number, value in _fields(data):
        if number == GRAPH_INITIALIZERS and isinstance(value, memoryview) and (found := _tensor(value)):
            yield found
        elif number == GRAPH_SPARSE and isinstance(value, memoryview):
            yield from _sparse(value)
    yield from _nodes(data, GRAPH_NODES, depth)


def external_data(model: bytes) -> list[tuple[str, str]]:
    """(tensor name, location) of every tensor of the model whose data lives outside the file."""
    found = []
    for number, value in _fields(memoryview(model)):
        if number == MODEL_GRAPH and isinstance(value, memoryview):
            found += _graph(value)
        elif number == MODEL_FUNCTIONS and isinstance(value, memoryview):
            found += _nodes(value, FUNCTION_NODES, 0)
    return found


def escapes(location: str) -> bool:
    """True for a location outside the model's folder: absolute (POSIX or Windows), or climbing with ``..``."""
    posix, windows = PurePosixPath(location), PureWindowsPath(location)
    return (not location or posix.is_absolute() or windows.is_absolute() or bool(windows.drive)
            or ".." in posix.parts or ".." in windows.parts)


def check_external_data(model: bytes, source: str) -> list[tuple[str, str]]:
    """The model's external data references; ``ModelFileError`` for one that leaves the model's folder (or a
    file whose structure cannot be read: onnxruntime then gets no chance to read it either)."""
    try:
        found = external_data(model)
    except (ValueError, IndexError) as exc:
        raise ModelFileError(f"{source}: not a loadable ONNX model (its structure cannot be read: {exc})") from None
    for name, location in found:
        if escapes(location):
            raise ModelFileError(f"{source}: tensor '{name}' keeps its data outside the file at '{location}'; expected "
                                 f"a file inside the model's folder {os.path.dirname(os.path.abspath(source)) or '.'}"
                                 " (refused before loading)")
    return found
