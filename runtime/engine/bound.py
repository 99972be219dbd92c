"""Runs that keep their data on the session's device: IO binding, and a CUDA graph where the profile allows one
(``Profile.io_binding``, ``Profile.cuda_graph``; the GPU profile's settings).

A camera's frames all have one shape and run one after another, so each input gets a buffer on the device that
lives as long as the session: a frame is copied into it (``OrtValue.update_inplace``), the model runs on it
(``run_with_iobinding``), and the outputs are read back into host memory when the run returns them (the
post-processing reads every one). With ``cuda_graph``, a second session on the CUDA provider captures the whole
model as one CUDA graph on its first run and replays it after; its outputs are written into buffers allocated once,
which needs every output's shape fixed in the model. A bound or graph run is kept only where its first outputs agree
with the plain session's on the same feeds (``AGREEMENT``); otherwise, and for feeds of any other shape (a batch), the
run is the plain ``session.run``. ``how`` says which it is, and why not the other.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

DEVICES = {"CUDAExecutionProvider": "cuda", "TensorrtExecutionProvider": "cuda", "CPUExecutionProvider": "cpu"}
AGREEMENT = 1e-3  # the same kernels on the same inputs: a difference above this (absolute and relative) is a fault


def agree(got: list[np.ndarray], want: list[np.ndarray]) -> bool:
    return len(got) == len(want) and all(
        g.shape == w.shape and g.dtype == w.dtype and
        (np.allclose(g, w, rtol=AGREEMENT, atol=AGREEMENT, equal_nan=True) if np.issubdtype(w.dtype, np.inexact)
         else np.array_equal(g, w))
        for g, w in zip(got, want))


class Bound:
    """One session bound to buffers for one set of feed shapes: ``run(feeds)`` copies them in, runs, reads back."""

    def __init__(self, session, device: str, feeds: dict[str, np.ndarray], output_names: list[str],
                 output_like: list[np.ndarray] | None = None):
        """``output_like``: outputs to allocate buffers of (a CUDA graph writes to fixed addresses); None: the
        outputs are bound to the device by name and allocated by the session's arena each run."""
        import onnxruntime as ort

        self.session, self.device = session, device
        self.binding = session.io_binding()
        self.inputs = {name: ort.OrtValue.ortvalue_from_shape_and_type(v.shape, v.dtype, device, 0) for name, v in feeds.items()}
        for name, value in self.inputs.items():
            self.binding.bind_ortvalue_input(name, value)
        self.outputs = None
        if output_like is None:
            for name in output_names:
                self.binding.bind_output(name, device)
        else:
            self.outputs = [ort.OrtValue.ortvalue_from_shape_and_type(o.shape, o.dtype, device, 0) for o in output_like]
            for name, value in zip(output_names, self.outputs):
                self.binding.bind_ortvalue_output(name, value)

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        for name, value in feeds.items():
            self.inputs[name].update_inplace(np.ascontiguousarray(value))
        self.session.run_with_iobinding(self.binding)
        if self.outputs is None:
            return self.binding.copy_outputs_to_cpu()
        # a CPU buffer's numpy() is a view of it, which the next run overwrites; a device buffer's is a copy
        return [o.numpy().copy() if self.device == "cpu" else o.numpy() for o in self.outputs]


class BoundRun:
    """``run(feeds)`` for a session whose profile keeps data on the device; the first call with feeds binds them."""

    def __init__(self, session, output_names: list[str], graph: Callable[[], object] | None = None,
                 no_graph: str = "the profile allows none"):
        """``graph``: makes the CUDA graph session (the profile allows one and the model's shapes are fixed); else
        ``no_graph`` says why there is none."""
        self._plain, self._names, self._graph, self._no_graph = session, output_names, graph, no_graph
        self._device = DEVICES.get(session.get_providers()[0])
        self._key: tuple | None = None  # the feed shapes bound
        self._bound: Bound | None = None
        self._lock = threading.Lock()  # one set of buffers: one bound run at a time
        self.how = "run" if self._device else f"run (no IO binding on {session.get_providers()[0]})"

    def __call__(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        if not all(type(value) is np.ndarray for value in feeds.values()):
            return self._plain.run(self._names, feeds)
        key = tuple((name, value.shape, value.dtype.str) for name, value in feeds.items())
        if self._bound is not None and key == self._key:
            with self._lock:
                return self._bound.run(feeds)
        if self._key is None and self._device:
            with self._lock:
                if self._key is None:  # the first feeds: run plainly, then bind their shapes
                    outs = self._plain.run(self._names, feeds)
                    self._key = key
                    self._bind(feeds, outs)
                    return outs
        return self._plain.run(self._names, feeds)  # other shapes, or nothing bound: concurrent runs stay concurrent

    def _bind(self, feeds: dict[str, np.ndarray], outs: list) -> None:
        """Bind the first feeds' shapes, checked on the same feeds against the plain run's ``outs``."""
        if not all(isinstance(o, np.ndarray) for o in outs):
            self.how = "run (an output is not a tensor: no IO binding)"
            return
        why_not = f"no CUDA graph ({self._no_graph})"
        if self._graph is not None:
            try:
                bound = Bound(self._graph(), self._device, feeds, self._names, outs)
                # the first runs warm up and capture, the later ones replay: three, so that a replay is among them
                if all(agree(bound.run(feeds), outs) for _ in range(3)):
                    self._bound, self.how = bound, f"IO binding on {self._device}, CUDA graph"
                    return
                why_not = "no CUDA graph: its outputs differ from a plain run's"
            except Exception as exc:  # onnxruntime refuses a graph for a model with nodes off the CUDA provider
                why_not = f"no CUDA graph: {(str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]}"
            self._graph = None
        try:
            bound = Bound(self._plain, self._device, feeds, self._names)
            if agree(bound.run(feeds), outs):
                self._bound, self.how = bound, f"IO binding on {self._device}; {why_not}"
                return
            self.how = f"run (IO binding gave other outputs than a plain run; {why_not})"
        except Exception as exc:
            self.how = f"run (IO binding failed: {(str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]})"
