"""Runs that keep their data on the session's device (``runtime.engine.bound``: IO binding, a CUDA graph where the
profile allows one). No GPU here: the same calls run on the CPU provider (device "cpu") through a profile that asks
for IO binding; on a GPU only the device name differs. The CUDA graph session is stood in for by another CPU session
where the test says so (the swap and its check are what is tested, not CUDA's capture)."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest

from edgeward.core.errors import InputError
from edgeward.devices import load_profile
from edgeward.runtime import Detector, Model
from edgeward.runtime.engine.bound import Bound, BoundRun
from edgeward.runtime.tasks.detect import DetectorOptions
from edgeward.tools.pipeline_bench import yolov8_layout_model

BOUND = replace(load_profile("x86-64-cpu"), io_binding=True, threads=1)
PLAIN = replace(load_profile("x86-64-cpu"), threads=1)


@pytest.fixture(scope="module")
def yolo(tmp_path_factory):
    return yolov8_layout_model(tmp_path_factory.mktemp("bound") / "yolov8-layout.onnx")


def _frames(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.random((1, 3, 640, 640), dtype=np.float32) for _ in range(n)]


def _session(path):
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_a_bound_run_gives_the_plain_runs_outputs_and_keeps_each_one(yolo):
    labels = [f"c{i}" for i in range(80)]
    with Detector.from_yolo(yolo, labels, device=BOUND) as bound, Detector.from_yolo(yolo, labels, device=PLAIN) as plain:
        name = bound.model.input_names[0]
        assert bound.model.execution == "run"  # nothing bound before the first run
        kept = [bound.model.run({name: x})["output0"] for x in _frames(4)]
        assert bound.model.execution == "IO binding on cpu; no CUDA graph (the profile allows none)"
        assert plain.model.execution == "run"
        for x, got in zip(_frames(4), kept):  # bit for bit, and a later run did not overwrite an earlier result
            assert np.array_equal(got, plain.model.run({name: x})["output0"])


def test_a_profile_that_asks_for_a_cuda_graph_says_why_it_has_none_on_the_cpu(yolo):
    with Detector.from_yolo(yolo, ["a"] * 80, device=replace(BOUND, cuda_graph=True)) as detector:
        detector.model.run({"images": _frames(1)[0]})
        assert detector.model.execution == ("IO binding on cpu; no CUDA graph (the session runs on "
                                            "CPUExecutionProvider, not CUDAExecutionProvider)")


def test_feeds_of_another_shape_run_the_plain_way(fraud_model):
    rows = np.random.default_rng(1).normal(size=(64, Model(fraud_model).manifest.inputs[0].shape[1])).astype(np.float32)
    with Model(fraud_model, device=BOUND) as bound, Model(fraud_model, device=PLAIN) as plain:
        name = bound.input_names[0]
        first = bound.run({name: rows[:1]})  # binds one row
        assert bound.execution.startswith("IO binding on cpu")
        for batch in (rows, rows[:7], rows[3:4]):  # other batches run plain; one row runs bound
            assert all(np.array_equal(a, b) for a, b in zip(bound.run({name: batch}).values(), plain.run({name: batch}).values()))
        assert all(np.array_equal(a, b) for a, b in zip(first.values(), plain.run({name: rows[:1]}).values()))


def test_threads_share_the_buffers_one_run_at_a_time(yolo):
    session = _session(yolo)
    run = BoundRun(session, ["output0"])
    frames = _frames(6, seed=3)
    want = [session.run(["output0"], {"images": x})[0] for x in frames]
    got: dict[int, list] = {}

    def worker(k):
        got[k] = [run({"images": x})[0] for x in frames]

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(g, w) for k in range(3) for g, w in zip(got[k], want))


def test_buffers_allocated_once_for_a_graph_are_read_back_as_copies(yolo):
    session = _session(yolo)
    frames = _frames(3, seed=5)
    want = [session.run(["output0"], {"images": x})[0] for x in frames]
    bound = Bound(session, "cpu", {"images": frames[0]}, ["output0"], output_like=want[:1])
    got = [bound.run({"images": x})[0] for x in frames]
    assert all(np.array_equal(g, w) for g, w in zip(got, want))


def test_a_graph_session_is_used_only_where_it_agrees_with_the_plain_run(yolo, tmp_path):
    """The CUDA graph session is stood in for by another CPU session: one of the same model (kept), one that
    cannot be made (its error said), one of another model (its outputs differ: not used)."""
    frames = _frames(2, seed=7)
    run = BoundRun(_session(yolo), ["output0"], graph=lambda: _session(yolo))
    run({"images": frames[0]})
    assert run.how == "IO binding on cpu, CUDA graph"
    assert np.array_equal(run({"images": frames[1]})[0], _session(yolo).run(None, {"images": frames[1]})[0])

    def refused():
        raise RuntimeError("This session cannot use the graph capture feature as requested\nmore")

    run = BoundRun(_session(yolo), ["output0"], graph=refused)
    run({"images": frames[0]})
    assert run.how == ("IO binding on cpu; no CUDA graph: This session cannot use the graph capture feature as "
                       "requested")
    other = yolov8_layout_model(tmp_path / "other.onnx", seed=1)
    run = BoundRun(_session(yolo), ["output0"], graph=lambda: _session(other))
    out = run({"images": frames[0]})[0]
    assert run.how == "IO binding on cpu; no CUDA graph: its outputs differ from a plain run's"
    assert np.array_equal(out, run({"images": frames[0]})[0])


def test_detections_through_a_bound_run_equal_the_plain_ones(detect_data):
    from edgeward.runtime.io.video import read_image

    options = DetectorOptions(score_threshold=0.05)
    images = [read_image(p) for p in sorted((detect_data / "images" / "test").glob("*.jpg"))[:4]]
    with Detector.from_catalogue("digits", device=BOUND, options=options) as bound, \
            Detector.from_catalogue("digits", device=PLAIN, options=options) as plain:
        for image in images + images[:1]:
            found = bound.detect(image)
            assert found and found == plain.detect(image)
        assert bound.model.execution.startswith("IO binding on cpu")


def test_a_profile_field_of_the_wrong_type_is_named(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('name = "p"\ndescription = "d"\narch = ["x86_64"]\nbackends = ["onnxruntime"]\n'
                    'providers = ["CPUExecutionProvider"]\nthreads = 1\nformat = "onnx"\nprecision = "fp32"\n'
                    'io_binding = "yes"\n')
    with pytest.raises(InputError, match=r"p.toml: field 'io_binding': expected true or false, got 'yes'"):
        load_profile(path)
    assert load_profile("nvidia-gpu").io_binding and load_profile("nvidia-gpu").cuda_graph
    assert not load_profile("x86-64-cpu").io_binding
