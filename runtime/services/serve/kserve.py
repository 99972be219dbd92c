"""The Open Inference Protocol (KServe v2) over HTTP/REST, as Triton serves it: server and model metadata, and
``infer`` with JSON tensors or the binary tensor data extension (a JSON header of ``Inference-Header-Content-Length``
bytes, then the raw tensors; tritonclient's default).

https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/ and Triton's
``binary_data.md`` define the formats; the tests drive this server with ``tritonclient.http``.
"""

from __future__ import annotations

import json
import math

import numpy as np

from edgeward.core.errors import InputError
from edgeward.core.manifest import parse_request

HEADER_LENGTH = "Inference-Header-Content-Length"
EXTENSIONS = ["binary_tensor_data", "model_configuration", "statistics", "model_repository"]
DATATYPES = {"FP32": np.float32, "FP64": np.float64, "FP16": np.float16, "INT8": np.int8, "INT16": np.int16,
             "INT32": np.int32, "INT64": np.int64, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32,
             "UINT64": np.uint64, "BOOL": np.bool_}
BY_DTYPE = {np.dtype(v): k for k, v in DATATYPES.items()}


def datatype(dtype) -> str:
    return BY_DTYPE[np.dtype(dtype)]


def tensor_metadata(t) -> dict:
    """A manifest ``TensorInfo`` as v2 metadata (a free dimension is -1)."""
    return {"name": t.name, "datatype": datatype(t.dtype), "shape": [-1 if d is None else int(d) for d in t.shape]}


def model_metadata(name: str, model) -> dict:
    m = model.manifest
    return {"name": name, "versions": ["1"], "platform": "onnxruntime_onnx" if m.format == "onnx" else "tflite",
            "inputs": [tensor_metadata(t) for t in m.inputs], "outputs": [tensor_metadata(t) for t in m.outputs],
            "parameters": {"task": m.task, "precision": m.precision}}


def model_config(name: str, model, max_batch_size: int) -> dict:
    """The model's configuration as Triton answers ``GET /v2/models/NAME/config`` (``tritonclient``'s
    ``get_model_config``): with ``max_batch_size`` > 0 the first dimension is the batch and ``dims`` leave it out."""
    m = model.manifest

    def tensor(t) -> dict:
        dims = [-1 if d is None else int(d) for d in t.shape]
        return {"name": t.name, "data_type": "TYPE_" + datatype(t.dtype), "dims": dims[1:] if max_batch_size > 0 else dims}

    return {"name": name, "platform": "onnxruntime_onnx" if m.format == "onnx" else "tflite",
            "backend": "onnxruntime" if m.format == "onnx" else "", "max_batch_size": max_batch_size,
            "version_policy": {"latest": {"num_versions": 1}}, "input": [tensor(t) for t in m.inputs],
            "output": [tensor(t) for t in m.outputs], "parameters": {"edgeward.task": {"string_value": m.task}}}


def check_batch_size(name: str, inputs: dict[str, np.ndarray], max_batch_size: int) -> None:
    """Triton's refusal of a request whose batch is larger than the model's ``max_batch_size`` (0: no limit)."""
    if max_batch_size > 0 and any(a.ndim and a.shape[0] > max_batch_size for a in inputs.values()):
        raise InputError(f"inference request batch-size must be <= {max_batch_size} for '{name}'")


def model_statistics(name: str, stats, batcher) -> dict:
    """One model's entry of Triton's statistics extension (``GET /v2/models/NAME/stats``): ``stats`` (its requests:
    ``models.Statistics``) and its batcher's model calls. The model call is counted as compute_infer (edgeward does
    not time input and output apart)."""
    def duration(count: int, ns: int) -> dict:
        return {"count": count, "ns": ns}

    return {"name": name, "version": "1", "last_inference": stats.last_ms, "inference_count": stats.rows,
            "execution_count": batcher.executions,
            "inference_stats": {"success": duration(stats.ok, stats.ok_ns), "fail": duration(stats.failed, stats.failed_ns),
                                "queue": duration(stats.ok, batcher.queue_ns), "compute_input": duration(0, 0),
                                "compute_infer": duration(batcher.executions, batcher.infer_ns),
                                "compute_output": duration(0, 0)},
            "batch_stats": []}


class Request:
    """A parsed ``infer`` request: the input tensors by name, which outputs to return and how, and its id."""

    def __init__(self, body: bytes, header_length: str | None):
        if header_length is not None:
            try:
                n = int(header_length)
            except ValueError:
                raise InputError(f"header {HEADER_LENGTH}: expected a byte count, got {header_length!r}") from None
            if not 0 <= n <= len(body):
                raise InputError(f"header {HEADER_LENGTH}: expected at most {len(body)} bytes, got {n}")
            head, binary = body[:n], memoryview(body)[n:]
        else:
            head, binary = body, memoryview(b"")
        doc = parse_request(head, "a JSON inference request")
        if not isinstance(doc, dict) or not isinstance(doc.get("inputs"), list) or not doc["inputs"]:
            raise InputError("request: expected a JSON object with a non-empty 'inputs' list")
        self.id = doc.get("id")
        if self.id is not None and not isinstance(self.id, str):
            raise InputError(f"id: expected a string, got {_shown(self.id)}")
        self.inputs: dict[str, np.ndarray] = {}
        offset = 0
        for i, item in enumerate(doc["inputs"]):
            name = _name(item, f"inputs[{i}]")
            if name in self.inputs:
                raise InputError(f"inputs[{i}].name: {name!r} is given twice")
            self.inputs[name], used = _tensor(item, binary[offset:], f"inputs[{i}]", len(body))
            offset += used
        if offset != len(binary):
            raise InputError(f"request: {len(binary) - offset} bytes of binary data left over after the inputs")
        self.binary_default = _flag(_parameters(doc, "parameters"), "binary_data_output", "parameters")
        self.outputs: dict[str, bool] | None = None  # name -> binary; None: every output
        wanted = doc.get("outputs")
        if wanted is not None and not isinstance(wanted, list):
            raise InputError(f"outputs: expected a list of objects, got {_shown(wanted)}")
        if wanted:
            self.outputs = {}
            for i, o in enumerate(wanted):
                where = f"outputs[{i}]"
                self.outputs[_name(o, where)] = _flag(_parameters(o, f"{where}.parameters"), "binary_data",
                                                      f"{where}.parameters", self.binary_default)


def _shown(value) -> str:
    text = json.dumps(value) if not isinstance(value, (bytes, bytearray)) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _name(item, where: str) -> str:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
        got = _shown(item.get("name")) if isinstance(item, dict) else _shown(item)
        raise InputError(f"{where}.name: expected a name (a string), got {got}")
    return item["name"]


def _parameters(item: dict, where: str) -> dict:
    params = item.get("parameters")
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise InputError(f"{where}: expected an object, got {_shown(params)}")
    return params


def _flag(params: dict, key: str, where: str, default: bool = False) -> bool:
    value = params.get(key, default)
    if not isinstance(value, bool):
        raise InputError(f"{where}.{key}: expected true or false, got {_shown(value)}")
    return value


def _tensor(item: dict, binary: memoryview, where: str, body_bytes: int) -> tuple[np.ndarray, int]:
    """One input tensor and the binary bytes it took. Its size is checked against what the body can hold before
    anything is allocated (a JSON value takes a byte at least, a binary one its item size)."""
    if not {"name", "shape", "datatype"} <= set(item):
        raise InputError(f"{where}: expected an object with name, shape and datatype")
    name, shape, kind = item["name"], item["shape"], item["datatype"]
    if not isinstance(kind, str) or kind not in DATATYPES:
        raise InputError(f"{where} ({name}): datatype: expected one of {', '.join(DATATYPES)}, got {_shown(kind)}")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise InputError(f"{where} ({name}): shape: expected a list of sizes >= 0, got {_shown(shape)}")
    dtype, count = np.dtype(DATATYPES[kind]), math.prod(shape)
    if count > body_bytes:
        raise InputError(f"{where} ({name}): shape {_shown(shape)}: {count:,} values, more than a request of "
                         f"{body_bytes:,} bytes holds")
    size = _parameters(item, f"{where}.parameters").get("binary_data_size")
    if size is not None:
        if not isinstance(size, int) or isinstance(size, bool):
            raise InputError(f"{where} ({name}): parameters.binary_data_size: expected a whole number of bytes, "
                             f"got {_shown(size)}")
        if size != count * dtype.itemsize or size > len(binary):
            raise InputError(f"{where} ({name}): binary_data_size: expected {count * dtype.itemsize} bytes for shape "
                             f"{shape} {kind}, got {size} ({len(binary)} left in the body)")
        return np.frombuffer(binary[:size], dtype=dtype).reshape(shape), size
    data = item.get("data")
    if data is None:
        raise InputError(f"{where} ({name}): expected 'data' or parameters.binary_data_size")
    try:
        array = np.asarray(data, dtype=dtype)
    except (TypeError, ValueError, OverflowError):
        low, high = (np.iinfo(dtype).min, np.iinfo(dtype).max) if dtype.kind in "iu" else (None, None)
        within = f" from {low} to {high}" if low is not None else ""
        raise InputError(f"{where} ({name}): data: expected {kind} numbers{within}") from None
    if array.size != count:
        raise InputError(f"{where} ({name}): data: expected {count} values for shape {shape}, got {array.size}")
    return array.reshape(shape), 0


def response(model_name: str, request: Request, outputs: dict[str, np.ndarray]) -> tuple[bytes, dict[str, str]]:
    """The ``infer`` response body and its extra headers."""
    wanted = request.outputs if request.outputs is not None else {name: request.binary_default for name in outputs}
    unknown = [name for name in wanted if name not in outputs]
    if unknown:
        raise InputError(f"outputs: unknown output(s) {unknown}; the model gives {list(outputs)}")
    items, blobs = [], []
    for name, binary in wanted.items():
        value = np.ascontiguousarray(outputs[name])
        item = {"name": name, "datatype": datatype(value.dtype), "shape": list(value.shape)}
        if binary:
            blobs.append(value.tobytes())
            item["parameters"] = {"binary_data_size": len(blobs[-1])}
        else:
            item["data"] = value.reshape(-1).tolist()
        items.append(item)
    doc = {"model_name": model_name, "model_version": "1", "outputs": items}
    if request.id is not None:
        doc["id"] = request.id
    head = json.dumps(doc).encode()
    if not blobs:
        return head, {}
    return head + b"".join(blobs), {HEADER_LENGTH: str(len(head))}
