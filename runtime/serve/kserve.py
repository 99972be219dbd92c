"""The Open Inference Protocol (KServe v2) over HTTP/REST, as Triton serves it: server and model metadata, and
``infer`` with JSON tensors or the binary tensor data extension (a JSON header of ``Inference-Header-Content-Length``
bytes, then the raw tensors; tritonclient's default).

https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/ and Triton's
``binary_data.md`` define the formats; the tests drive this server with ``tritonclient.http``.
"""

from __future__ import annotations

import json

import numpy as np

from edgeward.core.errors import InputError

HEADER_LENGTH = "Inference-Header-Content-Length"
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
        try:
            doc = json.loads(head)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"request: expected a JSON inference request, got invalid JSON ({exc})") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("inputs"), list) or not doc["inputs"]:
            raise InputError("request: expected a JSON object with a non-empty 'inputs' list")
        self.id = doc.get("id")
        self.inputs: dict[str, np.ndarray] = {}
        offset = 0
        for i, item in enumerate(doc["inputs"]):
            array, used = _tensor(item, binary[offset:], f"inputs[{i}]")
            self.inputs[item["name"]] = array
            offset += used
        if offset != len(binary):
            raise InputError(f"request: {len(binary) - offset} bytes of binary data left over after the inputs")
        params = doc.get("parameters") or {}
        self.binary_default = bool(params.get("binary_data_output", False))
        self.outputs: dict[str, bool] | None = None  # name -> binary; None: every output
        if doc.get("outputs"):
            self.outputs = {o["name"]: bool((o.get("parameters") or {}).get("binary_data", self.binary_default))
                            for o in doc["outputs"] if isinstance(o, dict) and "name" in o}


def _tensor(item, binary: memoryview, where: str) -> tuple[np.ndarray, int]:
    if not isinstance(item, dict) or not {"name", "shape", "datatype"} <= set(item):
        raise InputError(f"{where}: expected an object with name, shape and datatype")
    name, shape, kind = item["name"], item["shape"], item["datatype"]
    if kind not in DATATYPES:
        raise InputError(f"{where} ({name}): datatype: expected one of {', '.join(DATATYPES)}, got {kind!r}")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise InputError(f"{where} ({name}): shape: expected a list of sizes >= 0, got {shape!r}")
    dtype, count = np.dtype(DATATYPES[kind]), int(np.prod(shape)) if shape else 1
    size = (item.get("parameters") or {}).get("binary_data_size")
    if size is not None:
        if size != count * dtype.itemsize or size > len(binary):
            raise InputError(f"{where} ({name}): binary_data_size: expected {count * dtype.itemsize} bytes for shape "
                             f"{shape} {kind}, got {size} ({len(binary)} left in the body)")
        return np.frombuffer(binary[:size], dtype=dtype).reshape(shape), size
    data = item.get("data")
    if data is None:
        raise InputError(f"{where} ({name}): expected 'data' or parameters.binary_data_size")
    try:
        array = np.asarray(data, dtype=dtype)
    except (TypeError, ValueError):
        raise InputError(f"{where} ({name}): data: expected {kind} numbers") from None
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
