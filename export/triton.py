"""A Triton model repository of exported ONNX models, for users who serve from a GPU cluster (or anywhere Triton
runs); edgeward's own server serves the same layout (``edgeward serve REPO``).

    REPO/<name>/config.pbtxt     backend onnxruntime; inputs and outputs from the manifest; dynamic batching;
                                 the instance kind and accelerators from the device profile; the manifest
    REPO/<name>/1/model.onnx     the artifact, as exported

The configuration is written as protobuf text by hand (no Triton package needed to write it); the tests parse
every file with the ``ModelConfig`` message that ``tritonclient`` ships.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from edgeward.core.config import at_least, check, option
from edgeward.core.errors import InputError
from edgeward.devices import Profile, resolve
from edgeward.runtime.engine.catalogue import locate, released_name
from edgeward.runtime.engine.catalogue import read_model_bytes
from edgeward.runtime.engine.model import Model
from edgeward.runtime.services.serve.models import split_spec, unique_name
from edgeward.runtime.engine.sessions import is_tflite

MANIFEST_PARAMETER = "edgeward.manifest"
TYPES = {"float32": "TYPE_FP32", "float16": "TYPE_FP16", "float64": "TYPE_FP64", "int8": "TYPE_INT8", "int16": "TYPE_INT16",
         "int32": "TYPE_INT32", "int64": "TYPE_INT64", "uint8": "TYPE_UINT8", "uint16": "TYPE_UINT16", "bool": "TYPE_BOOL"}


@dataclass(frozen=True)
class TritonOptions:
    device: str = option("x86-64-cpu", "the device profile Triton runs on: instance kind (CPU or GPU), accelerators, threads")
    max_batch: int = option(64, "max_batch_size for models with a free batch dimension")
    preferred_batch: tuple[int, ...] = option((8, 32), "dynamic batching: preferred batch sizes, comma-separated")
    queue_delay_us: int = option(200, "dynamic batching: the longest a request waits for others, microseconds")
    instances: int = option(1, "model instances per device")

    def __post_init__(self):
        at_least(self, 1, "max_batch", "instances")
        at_least(self, 0, "queue_delay_us")
        check(self, "preferred_batch", all(isinstance(b, int) and 1 <= b <= self.max_batch for b in self.preferred_batch),
              f"batch sizes between 1 and max_batch ({self.max_batch})")


def model_config(name: str, model: Model, profile: Profile, options: TritonOptions = TritonOptions()) -> str:
    """``config.pbtxt`` for one model (protobuf text of Triton's ``ModelConfig``)."""
    m = model.manifest
    batched = all(t.shape and t.shape[0] is None for t in (*m.inputs, *m.outputs))
    lines = [f"name: {_q(name)}", 'backend: "onnxruntime"', f"max_batch_size: {options.max_batch if batched else 0}"]
    for kind, tensors in (("input", m.inputs), ("output", m.outputs)):
        for t in tensors:
            if t.dtype not in TYPES:
                raise InputError(f"{model.source}: {kind} {t.name!r} has dtype {t.dtype}, which Triton has no type for")
            dims = t.shape[1:] if batched else t.shape
            lines.append(f"{kind} {{ name: {_q(t.name)} data_type: {TYPES[t.dtype]} "
                         f"dims: [ {', '.join('-1' if d is None else str(d) for d in dims)} ] }}")
    if batched:
        preferred = ", ".join(str(b) for b in options.preferred_batch)
        lines.append(f"dynamic_batching {{ preferred_batch_size: [ {preferred} ] "
                     f"max_queue_delay_microseconds: {options.queue_delay_us} }}")
    gpu = any(p in profile.providers for p in ("CUDAExecutionProvider", "TensorrtExecutionProvider"))
    lines.append(f"instance_group [ {{ count: {options.instances} kind: {'KIND_GPU' if gpu else 'KIND_CPU'} }} ]")
    if "TensorrtExecutionProvider" in profile.providers:  # ONNX Runtime's TensorRT provider inside Triton's backend
        precision = "FP16" if profile.precision == "fp16" else "FP32"
        lines.append("optimization { execution_accelerators { gpu_execution_accelerator: [ { name: \"tensorrt\" "
                     f"parameters {{ key: \"precision_mode\" value: \"{precision}\" }} "
                     "parameters { key: \"max_workspace_size_bytes\" value: \"1073741824\" } } ] } }")
    elif gpu:
        lines.append("optimization { cuda { graphs: false } }")
    if not gpu and profile.threads:
        lines.append(f"parameters {{ key: \"intra_op_thread_count\" value: {{ string_value: \"{profile.threads}\" }} }}")
    lines.append(f"parameters {{ key: {_q(MANIFEST_PARAMETER)} value: {{ string_value: {_q(m.to_json())} }} }}")
    return "\n".join(lines) + "\n"


def _q(text: str) -> str:
    """A protobuf text string literal (JSON's escaping is a subset protobuf text accepts)."""
    return json.dumps(text, ensure_ascii=True)


def write_repository(repo: str | os.PathLike, models: list[str], options: TritonOptions = TritonOptions()) -> list[Path]:
    """``models``: exported ONNX files or released names (named after the name), ``PATH`` (named after its task, or
    its file when that name is taken) or ``NAME=PATH``. Every model is read and checked before a folder is
    written, so a bad one leaves nothing behind. Returns the model folders written."""
    profile = resolve(options.device)
    repo = Path(repo)
    planned: list[tuple[str, bytes, str]] = []
    for spec in models:
        name, path = split_spec(spec)
        name = name or released_name(path) or ""
        path = locate(path, resolve("x86-64-cpu"))  # a released name's ONNX file
        data, source = read_model_bytes(path)
        if is_tflite(data):
            raise InputError(f"{source}: a TFLite model; Triton has no TFLite backend: give the ONNX artifact of the run")
        with Model(path, device="x86-64-cpu") as model:
            name = unique_name(name, model.manifest.task, str(path), [n for n, _, _ in planned], "triton")
            planned.append((name, data, model_config(name, model, profile, options)))
    written: list[Path] = []
    for name, data, config in planned:
        folder = repo / name
        (folder / "1").mkdir(parents=True, exist_ok=True)
        (folder / "1" / "model.onnx").write_bytes(data)
        (folder / "config.pbtxt").write_text(config)
        written.append(folder)
    return written
