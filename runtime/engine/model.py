"""``Model``: one self-describing model file (ONNX, or TFLite with the tflite extra) ready to run.

The file's embedded manifest says the task, the inputs (name, shape, dtype), the outputs and the
task specifics; the device profile says the backend, execution providers and threads.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeward.core.errors import ConfigError, DeviceError, InputError, ManifestError, ModelFileError, TensorError
from edgeward.core.manifest import METADATA_KEY, Manifest, TensorInfo
from edgeward.devices import Backend, Profile, resolve
from edgeward.devices.profiles import MAX_THREADS
from edgeward.runtime.engine.catalogue import ModelSource, read_model_bytes
from edgeward.runtime.engine.sessions import OnnxSession, TfliteSession, is_tflite

INT8 = ("int8", "int8-dynamic")
PARITY_FP32_TOLERANCE = 1e-5  # the parity check across machines: fp32 values this close are the same (and scores ties)


class UncheckedCpuWarning(RuntimeWarning):
    """An int8 file runs on a CPU class its export did not check it on (``Manifest.cpu_checks``): integer kernels
    differ by instruction set, so its accuracy here is unmeasured. Said once per file and process."""


_warned: set[str] = set()  # the files (by the hash their manifest records, else their name) warned about


class Model:
    """A loaded model and its manifest.

    ``run()`` takes a mapping of input name to array (or one array for a single-input model) and
    returns a dict of output name to array. Inputs are checked against the manifest: a wrong name,
    rank, fixed dimension or dtype, or a NaN, is a ``TensorError`` naming what was expected and given.
    """

    def __init__(self, source: ModelSource, device: str | Profile | None = "auto", threads: int | None = None,
                 manifest: Manifest | None = None, require_signature: str | os.PathLike | None = None):
        """``manifest``: for a model made elsewhere, without an embedded one (e.g. ``Detector.from_yolo``).
        ``require_signature``: a public key (``edgeward keys``); the file is refused unless its ``FILE.sig`` was
        made by that key's holder over these very bytes (checked before a session is made)."""
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= MAX_THREADS):
            raise ConfigError(f"threads (--threads): expected a whole number from 1 to {MAX_THREADS}, got {threads!r}")
        self.profile = resolve(device)
        data, self.source = read_model_bytes(source, self.profile)
        if require_signature is not None:
            if isinstance(source, bytes):
                raise ModelFileError("require_signature: a signature is checked beside a model file; got bytes")
            from edgeward.core.signing import check_signature

            check_signature(data, self.source, require_signature)
        if len(data) < 8:
            raise ModelFileError(f"{self.source}: expected an ONNX or TFLite model, got {len(data)} bytes")
        backend = Backend.TFLITE if is_tflite(data) else Backend.ONNXRUNTIME
        if backend not in self.profile.backends:
            raise DeviceError(
                f"device profile '{self.profile.name}' runs {[b.value for b in self.profile.backends]}, "
                f"got a {backend.value} model ({self.source})"
            )
        impl = TfliteSession if backend is Backend.TFLITE else OnnxSession
        self._session = impl(data, self.source, self.profile, threads)
        self.backend = backend
        self.providers = self._session.providers
        self._run = self._session.run
        text = self._session.manifest_text()
        if manifest is not None:
            self.manifest = manifest
        elif text is None:
            raise ManifestError(
                f"{self.source}: no edgeward manifest in the file (metadata key '{METADATA_KEY}'); "
                "export the model with `edgeward export`"
            )
        else:
            self.manifest = Manifest.from_json(text, self.source)
        self._inputs = {t.name: t for t in self.manifest.inputs}
        graph = getattr(self._session, "input_names", None)  # ONNX: the manifest must name the graph's own inputs
        if graph is not None and sorted(self._inputs) != sorted(graph):
            raise ManifestError(f"{self.source}: manifest field 'inputs': names {sorted(self._inputs)}, but the graph's "
                                f"inputs are {sorted(graph)}")
        self.output_names = tuple(t.name for t in self.manifest.outputs)
        self._single, self._out0 = len(self.output_names) == 1, self.output_names[0]
        self.size_bytes = len(data)
        on_cpu = self.providers[:1] in (("CPUExecutionProvider",), ("XNNPACK",))  # not a GPU, TensorRT or Edge TPU
        if self.manifest.precision in INT8 and on_cpu:
            _warn_if_unchecked(self.manifest, self.source)

    @classmethod
    def from_file(cls, source: ModelSource, device: str | Profile | None = "auto", threads: int | None = None) -> "Model":
        return cls(source, device=device, threads=threads)

    @property
    def execution(self) -> str:
        """How a run is made: ``run``, or through IO binding (and a CUDA graph) where the profile asks for them,
        with why not where it asked and does not get them (``runtime.engine.bound``)."""
        return getattr(self._run, "how", "run")

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(self._inputs)

    def run(self, inputs: Mapping[str, np.ndarray] | np.ndarray, validate: bool = True) -> dict[str, np.ndarray]:
        """Run the model. ``validate=False`` skips the input checks, for callers that did them (a dict only)."""
        if validate or type(inputs) is not dict:
            inputs = self._checked(inputs, validate)
        outs = self._run(inputs)
        return {self._out0: outs[0]} if self._single else dict(zip(self.output_names, outs))

    def check(self, inputs: Mapping[str, np.ndarray] | np.ndarray) -> dict[str, np.ndarray]:
        """The inputs as ``run(..., validate=False)`` takes them, checked against the manifest (``TensorError``)."""
        return self._checked(inputs, True)

    def _checked(self, inputs, validate: bool) -> dict[str, np.ndarray]:
        if self._session is None:
            raise ModelFileError(f"{self.source}: model is closed")
        if not isinstance(inputs, Mapping):
            if len(self._inputs) != 1:
                raise TensorError(f"model has inputs {list(self._inputs)}: pass a dict of name to array")
            inputs = {next(iter(self._inputs)): inputs}
        if not validate:
            return dict(inputs)
        feeds = {}
        for name, value in inputs.items():
            spec = self._inputs.get(name)
            if spec is None:
                raise TensorError(f"unknown input {name!r}: expected one of {list(self._inputs)}")
            feeds[name] = _check(spec, value)
        if len(feeds) != len(self._inputs):
            missing = [n for n in self._inputs if n not in feeds]
            raise TensorError(f"missing input(s) {missing}: expected {list(self._inputs)}, got {list(feeds)}")
        return feeds

    def warmup(self, runs: int = 3) -> None:
        """Run zeros of batch 1 through the model so that first-call costs are paid now."""
        feeds = {name: np.zeros_like(x) for name, x in self.example_inputs(1).items()}
        for _ in range(runs):
            self.run(feeds)

    def example_inputs(self, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
        """Seeded inputs of the model's own shapes and types, uniform in 0-1 (free dimensions: ``batch``): what a
        check or a load needs where the values do not matter."""
        rng = np.random.default_rng(seed)
        return {t.name: rng.uniform(0, 1, [batch if d is None else d for d in t.shape]).astype(t.dtype)
                for t in self.manifest.inputs}

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
            self._run = self._closed

    def _closed(self, feeds):
        raise ModelFileError(f"{self.source}: model is closed")

    def __enter__(self) -> "Model":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Model({self.source!r}, task={self.manifest.task}, backend={self.backend.value}, providers={self.providers})"


def _warn_if_unchecked(manifest: Manifest, source: str) -> None:
    from edgeward.devices.cpu import running_class

    here = running_class()
    ran = {c.cpu: c for c in manifest.cpu_checks}
    if here is None or (here.value in ran and (ran[here.value].passed or manifest.checks == "degenerate")):
        return  # passed here; or no check could tell, which its export said
    key = manifest.provenance.artifact_sha256 or source
    if key in _warned:
        return
    _warned.add(key)
    if here.value in ran:
        warnings.warn(f"{source}: this int8 file failed its check on this CPU's class ({here.value}: {here.kernels}): "
                      f"metric drop {ran[here.value].drop_points:+.2f} points", UncheckedCpuWarning, stacklevel=4)
        return
    checked = manifest.checked_on()
    where = (f"checked on {', '.join(checked)}" if checked else
             "not checked on any CPU class (exported before edgeward checked int8 files on each)" if not manifest.checks
             else "checked on no CPU class")
    warnings.warn(f"{source}: this int8 file was {where}, not on this CPU ({here.value}: {here.kernels}), so its accuracy "
                  f"here is unmeasured; export it with --targets {here.value} on a machine that can check that class",
                  UncheckedCpuWarning, stacklevel=4)


def _check(spec: TensorInfo, value) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise TensorError(f"input {spec.name!r}: expected a numpy array of {spec.dtype}, got {type(value).__name__}")
    if value.dtype != spec.dtype:
        raise TensorError(f"input {spec.name!r}: expected dtype {spec.dtype}, got {value.dtype}")
    if value.ndim != len(spec.shape) or any(d is not None and d != g for d, g in zip(spec.shape, value.shape)):
        want = "(" + ", ".join("N" if d is None else str(d) for d in spec.shape) + ")"
        raise TensorError(f"input {spec.name!r}: expected shape {want}, got {tuple(value.shape)}")
    if value.dtype.kind == "f" and not np.isfinite(value).all():
        bad = np.argwhere(~np.isfinite(value))[0]
        raise TensorError(
            f"input {spec.name!r}: expected finite values, got {value[tuple(bad)]} at index {tuple(int(i) for i in bad)}"
        )
    return value


@dataclass(frozen=True)
class Watched:
    """One frame of a live video source as a runtime gives it back: the picture to show and its record (JSON
    values: what was found, ``fps`` and the timings), made together so that they are of one frame."""

    picture: np.ndarray  # BGR, with what was found drawn on it
    record: dict


class ModelTask:
    """What every task class shares: it owns a ``Model`` and releases it with ``close()`` or ``with``."""

    model: Model
    task: str  # the manifest task the class reads
    feeds: frozenset = frozenset()  # what it can be fed (``registry.Feed``): the services dispatch on it
    options_type: type | None = None  # the dataclass of ``from_file``'s ``options``, where the task has options
    # the parity check across machines (``runtime/services/parity.py``): the kind of input it gives this task (None: the raw
    # outputs are compared, nothing more), what the task makes of that input here (``parity_results``), and how
    # two machines' results compare (``parity_compare``)
    parity_feed = None
    # routes of the task's own on the server (``edgeward serve``): PATH -> "module:function", mounted at POST
    # /TASK/PATH; the function takes the served model and the request's body and returns (status, JSON answer)
    serve_routes: dict[str, str] = {}

    @classmethod
    def route_request(cls, path: str, manifest: Manifest, inputs: dict[str, np.ndarray]) -> bytes:
        """The body of a request to its route ``path`` (of ``serve_routes``) that carries ``inputs`` (the model's
        inputs by name, a batch of rows): the load ``edgeward bench-serve`` sends."""
        raise NotImplementedError(f"{cls.__name__} has no server route {path!r}")

    # the live sources of ``edgeward serve`` (``runtime/services/serve/live.py``): a runtime that takes
    # ``Feed.VIDEO`` answers ``watch``, one that takes ``Feed.AUDIO`` answers ``listen`` (and ``reset`` between
    # recordings)

    unwatched: dict = {}  # a live video's record before its first frame: the fields of ``watch``'s records, empty

    def watch(self, frames: Iterable[tuple[int, np.ndarray]]) -> Iterator[Watched]:
        """Each (number, BGR frame) of a live video source as ``Watched``: the frame drawn with what was found in
        it, and its record."""
        raise NotImplementedError(f"{type(self).__name__} does not take video")

    def listen(self, blocks: Iterable[tuple[np.ndarray, int]]) -> Iterator[dict]:
        """The events heard in a live audio source of (block, sample rate), as they are decided: JSON values, with
        ``start`` and ``end`` in seconds from the source's start."""
        raise NotImplementedError(f"{type(self).__name__} does not take audio")

    def reset(self) -> None:
        """Forget what a live source has given so far (a recording that starts again)."""

    @classmethod
    def parity_results(cls, artifact: str, source: str) -> dict:
        """What the task makes of the check input ``source`` with ``artifact`` on this machine (JSON values; a key
        ``array:NAME`` holds an array compared as raw outputs are)."""
        raise NotImplementedError

    @staticmethod
    def parity_compare(a: dict, b: dict, names: tuple[str, str]) -> tuple[float, list, str]:
        """Two machines' ``parity_results`` side by side: the largest difference of values, the decisions that
        differ, and one line that says so."""
        raise NotImplementedError

    @classmethod
    def from_catalogue(cls, name: str | None = None, **options):
        """A released model (``edgeward models list``); ``name`` defaults to the task's default. ``options``
        are ``from_file``'s (``device``, ``threads``, the task's options)."""
        from edgeward.runtime.engine.catalogue import default_for, get

        name = name or default_for(cls.task)
        if name is None:
            raise InputError(f"the catalogue has no default {cls.task} model; name one (edgeward models list)")
        task = get(name).task
        if task != cls.task:
            raise InputError(f"catalogue model {name!r} is a {task} model; {cls.__name__} runs {cls.task} models")
        return cls.from_file(name, **options)

    def close(self) -> None:
        self.model.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
