"""Inference sessions behind ``Model``: ONNX Runtime, and LiteRT for .tflite files (the backends a device
profile names, ``edgeward.devices.Backend``).

Each session takes the model bytes, returns the embedded manifest text and runs named inputs.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Protocol

import numpy as np

from edgeward.core.errors import DeviceError, ModelFileError, require
from edgeward.core.manifest import METADATA_KEY
from edgeward.devices import Profile
from edgeward.runtime.engine.onnx_external import check_external_data

TFLITE_IDENTIFIER = b"TFL3"


class Session(Protocol):
    name: str
    providers: tuple[str, ...]

    def manifest_text(self) -> str | None: ...

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]: ...

    def close(self) -> None: ...


def is_tflite(data: bytes) -> bool:
    return data[4:8] == TFLITE_IDENTIFIER


class OnnxSession:
    name = "onnxruntime"

    def __init__(self, data: bytes, source: str, profile: Profile, threads: int | None):
        from edgeward.devices.host import import_onnxruntime

        ort = import_onnxruntime()
        self.providers = profile.check_providers()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or profile.num_threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        if check_external_data(data, source):  # tensors in files beside the model: inside its folder only
            if source == "<bytes>":
                raise ModelFileError("<bytes>: the model keeps tensors in files beside it; load it from its path")
            options.add_session_config_entry("session.model_external_initializers_file_folder_path",
                                             os.path.dirname(os.path.abspath(source)))
        try:
            self._session = ort.InferenceSession(data, sess_options=options, providers=list(self.providers))
        except Exception as exc:  # onnxruntime raises its own exception types for unreadable models
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelFileError(f"{source}: not a loadable ONNX model ({first})") from None
        self.output_names = [o.name for o in self._session.get_outputs()]
        self.input_names = [i.name for i in self._session.get_inputs()]
        if profile.io_binding or profile.cuda_graph:
            self.run = self._bound(ort, data, options, profile)
        else:  # the session's own run with the output names bound: no Python frame in between
            self.run = functools.partial(self._session.run, self.output_names)

    def _bound(self, ort, data: bytes, options, profile: Profile):
        """Runs through IO binding (``runtime.engine.bound``), with a CUDA graph where the profile allows one, the
        session runs on the CUDA provider and every input and output shape is fixed in the model."""
        from edgeward.runtime.engine.bound import BoundRun

        session = self._session
        fixed = all(isinstance(d, int) for t in (*session.get_inputs(), *session.get_outputs()) for d in t.shape)
        graph = None
        if profile.cuda_graph and fixed and session.get_providers()[0] == "CUDAExecutionProvider":
            providers = [("CUDAExecutionProvider", {"enable_cuda_graph": "1"}), *session.get_providers()[1:]]
            graph = functools.partial(ort.InferenceSession, data, sess_options=options, providers=providers)
        no_graph = ("the profile allows none" if not profile.cuda_graph else "the model's shapes are not all fixed"
                    if not fixed else f"the session runs on {session.get_providers()[0]}, not CUDAExecutionProvider")
        return BoundRun(session, self.output_names, graph, no_graph)

    def manifest_text(self) -> str | None:
        return self._session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)

    def close(self) -> None:
        self._session = None
        self.run = None


def _delegate(interpreter_mod, profile: Profile):
    """The profile's TFLite delegate, or a DeviceError. LiteRT's half-made ``Delegate`` fails again in its
    ``__del__`` (an AttributeError Python prints as "Exception ignored"): that second failure is not shown."""
    previous = sys.unraisablehook

    def hook(unraisable):
        if not (isinstance(unraisable.exc_value, AttributeError) and "Delegate" in repr(unraisable.object)):
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        try:
            return interpreter_mod.load_delegate(profile.delegate)
        except (ValueError, OSError) as exc:
            failure = str(exc)
    finally:
        sys.unraisablehook = previous
    raise DeviceError(f"device profile '{profile.name}' needs the TFLite delegate {profile.delegate}, "
                      f"which could not be loaded ({failure})")


class TfliteSession:
    name = "tflite"

    def __init__(self, data: bytes, source: str, profile: Profile, threads: int | None):
        from edgeward.runtime.engine.tflite_metadata import read_metadata

        interpreter_mod = require("ai_edge_litert.interpreter", "tflite")
        delegates = [_delegate(interpreter_mod, profile)] if profile.delegate else []
        self.providers = (profile.delegate,) if profile.delegate else ("XNNPACK",)
        self._metadata = read_metadata(data, source)
        try:
            self._interp = interpreter_mod.Interpreter(
                model_content=data, num_threads=threads or profile.num_threads, experimental_delegates=delegates
            )
        except (ValueError, RuntimeError) as exc:
            raise ModelFileError(f"{source}: not a loadable TFLite model ({exc})") from None
        self._details = self._interp.get_input_details()
        self._inputs: dict[str, dict] = {}  # manifest input name -> interpreter input detail
        self._outputs = self._interp.get_output_details()
        self._shapes: dict[str, tuple[int, ...]] = {}
        self._row_at_a_time = False  # set when a fixed-batch file cannot be resized (``run``)
        self._interp.allocate_tensors()

    def manifest_text(self) -> str | None:
        raw = self._metadata.get(METADATA_KEY)
        return raw.decode() if raw is not None else None

    def _detail(self, name: str) -> dict:
        """The interpreter input for a manifest input name (converters prefix signature names)."""
        if name not in self._inputs:
            matches = [d for d in self._details if d["name"] in (name, f"serving_default_{name}:0")]
            if not matches and len(self._details) == 1:
                matches = self._details
            if not matches:
                raise ModelFileError(f"TFLite model has no input for {name!r}: {[d['name'] for d in self._details]}")
            self._inputs[name] = matches[0]
        return self._inputs[name]

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        rows = len(next(iter(feeds.values()))) if feeds else 1
        if self._row_at_a_time and rows != 1:
            return self._rows(feeds, rows)
        resized = False
        for name, value in feeds.items():
            detail = self._detail(name)
            if self._shapes.get(name) != value.shape:
                self._interp.resize_tensor_input(detail["index"], value.shape)
                self._shapes[name] = value.shape
                resized = True
        if resized:
            try:
                self._interp.allocate_tensors()
            except RuntimeError:
                if rows == 1 or not self._fixed_batch():
                    raise
                # a file fixed at one row whose graph cannot be resized (an LSTM's: XNNPACK "failed to reshape
                # runtime"): back to one row, run the rows one by one from now on
                self._row_at_a_time = True
                return self._rows(feeds, rows)
        for name, value in feeds.items():
            detail = self._inputs[name]
            scale, zero = detail["quantization"]
            if detail["dtype"] != value.dtype and scale:
                info = np.iinfo(detail["dtype"])
                value = np.clip(np.round(value / scale + zero), info.min, info.max).astype(detail["dtype"])
            self._interp.set_tensor(detail["index"], value)
        self._interp.invoke()
        outs = []
        for detail in self._outputs:
            value = self._interp.get_tensor(detail["index"])
            scale, zero = detail["quantization"]
            if scale and value.dtype != np.float32:
                value = (value.astype(np.float32) - zero) * scale
            outs.append(value)
        return outs

    def _fixed_batch(self) -> bool:
        """Whether the file was converted with its batch fixed at one (every input's signature starts with 1)."""
        return all(len(d.get("shape_signature", ())) and d["shape_signature"][0] == 1 for d in self._details)

    def _rows(self, feeds: dict[str, np.ndarray], rows: int) -> list[np.ndarray]:
        """Run a batch one row at a time (each output a copy) and stack the outputs."""
        outs = [[o.copy() for o in self.run({k: v[i:i + 1] for k, v in feeds.items()})] for i in range(rows)]
        return [np.concatenate(parts) for parts in zip(*outs)]

    def close(self) -> None:
        self._interp = None
