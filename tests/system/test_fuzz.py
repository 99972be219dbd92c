"""Property-based fuzzing (Hypothesis) of every parser of untrusted bytes: WAV files and headers, CSV rows through
`score`, manifest JSON (text and mutated fields), TFLite metadata, YOLO labels, COCO annotations, image decoding
through the runtime's path (and real image files with bytes changed, for the header check before decoding), the ONNX
protobuf walk (external data, manifest), KServe inference requests (bytes, and JSON shaped like a request), and
the Keras config scanner (any JSON text; a Lambda hidden anywhere in a config is always found). The only allowed outcomes are a result or one of
edgeward's own errors. The suite runs a short budget; `make fuzz` runs 100,000 inputs per parser
(EDGEWARD_FUZZ_EXAMPLES) and prints Hypothesis' counts."""

from __future__ import annotations

import json
import os
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from edgeward.core.errors import EdgewardError  # noqa: E402

pytestmark = pytest.mark.full  # a short budget of every fuzzer: `make test-full` (`make fuzz` runs the long one)

EXAMPLES = int(os.environ.get("EDGEWARD_FUZZ_EXAMPLES", "150"))
fuzz = settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)


def survives(fn, *args):
    """A result, or edgeward's own error: anything else fails the test."""
    try:
        return fn(*args)
    except EdgewardError:
        return None


def _wav(tag, channels, rate, bits, size, payload) -> bytes:
    fmt = struct.pack("<HHIIHH", tag, channels, rate, 0, 0, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", size) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


@fuzz
@given(st.binary(max_size=3000))
def test_wav_bytes(data):
    from edgeward.runtime.io.audio_io import parse_wav

    survives(parse_wav, data)


@fuzz
@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.integers(0, 2**32 - 1), st.sampled_from([0, 7, 8, 16, 24, 32, 64, 99]),
       st.integers(0, 2**32 - 1), st.binary(max_size=600))
def test_wav_headers(tag, channels, rate, bits, size, payload):
    from edgeward.runtime.io.audio_io import parse_wav

    result = survives(parse_wav, _wav(tag, channels, rate, bits, size, payload))
    if result is not None:
        samples, got = result
        assert np.isfinite(samples).all() and 1000 <= got <= 384_000


def _manifest_dict() -> dict:
    from edgeward.core.manifest import Manifest, Metric, Provenance, TensorInfo

    m = Manifest(task="fraud", format="onnx", precision="fp32", inputs=(TensorInfo("features", (None, 3), "float32"),),
                 outputs=(TensorInfo("score", (None, 1), "float32"),), labels=(), features=("a", "b", "c"),
                 thresholds={"decision": 0.5}, metrics=(Metric("auprc", 0.5, "test"),),
                 provenance=Provenance("0", {}, "x", "y", "z", "now"))
    return json.loads(m.to_json())


@fuzz
@given(st.text(max_size=800))
def test_manifest_text(text):
    from edgeward.core.manifest import Manifest

    survives(Manifest.from_json, text, "m.onnx")


@fuzz
@given(st.sampled_from(sorted(_manifest_dict())), JSON)
def test_manifest_fields(field, value):
    from edgeward.core.manifest import Manifest

    data = _manifest_dict()
    data[field] = value
    survives(Manifest.from_dict, data, "m.onnx")


@fuzz
@given(st.binary(max_size=2000))
def test_tflite_metadata(data):
    from edgeward.runtime.engine.tflite_metadata import read_metadata

    survives(read_metadata, data, "m.tflite")


@fuzz
@given(st.text(max_size=400))
def test_yolo_labels(text):
    from edgeward.train.detect.labels import read_yolo_labels

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "l.txt"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        survives(read_yolo_labels, path, 10)


@fuzz
@given(JSON)
def test_coco_annotations(doc):
    from edgeward.train.detect.labels import load_coco

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.json"
        path.write_text(json.dumps(doc))
        survives(load_coco, path, tmp)


@fuzz
@given(st.binary(max_size=3000))
def test_image_decode(data):
    from edgeward.runtime.io.video import read_image

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "i.jpg"
        path.write_bytes(data)
        survives(read_image, path)


def _mutated(base: bytes, edits: list[tuple[int, int]], cut: int) -> bytes:
    data = bytearray(base[: max(1, len(base) - cut)])
    for at, value in edits:
        data[at % len(data)] = value
    return bytes(data)


EDITS = st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=8)


@pytest.fixture(scope="module")
def small_onnx() -> bytes:
    """A small real ONNX file with an embedded manifest and a tensor kept in an external file."""
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4], data_location=TensorProto.EXTERNAL)
    entry = w.external_data.add()
    entry.key, entry.value = "location", "w.bin"
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], [w])
    model = helper.make_model(graph)
    model.metadata_props.add(key="edgeward.manifest", value='{"schema": 1}')
    return model.SerializeToString()


@fuzz
@given(EDITS, st.integers(0, 200))
def test_onnx_structure(small_onnx, edits, cut):
    """The protobuf walk that checks external data and reads the manifest before onnxruntime opens a file."""
    from edgeward.runtime.engine.onnx_external import check_external_data
    from edgeward.runtime.engine.embedded import manifest_of

    data = _mutated(small_onnx, edits, cut)
    survives(check_external_data, data, "m.onnx")
    survives(manifest_of, data, "m.onnx")


@pytest.fixture(scope="module")
def image_files() -> list[tuple[str, bytes]]:
    cv2 = pytest.importorskip("cv2")
    pixels = np.random.default_rng(0).integers(0, 255, (12, 16, 3), dtype=np.uint8)
    return [(suffix, cv2.imencode(suffix, pixels)[1].tobytes()) for suffix in (".png", ".jpg", ".bmp")]


@fuzz
@given(st.integers(0, 2), EDITS, st.integers(0, 400))
def test_image_headers(image_files, which, edits, cut):
    """Real PNG, JPEG and BMP files with bytes changed: the header check before decoding, then the decoder."""
    from edgeward.runtime.io.video import read_image

    suffix, base = image_files[which]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"i{suffix}"
        path.write_bytes(_mutated(base, edits, cut))
        survives(read_image, path)


@fuzz
@given(st.binary(max_size=1500), st.one_of(st.none(), st.text(max_size=6)))
def test_kserve_requests(body, header_length):
    from edgeward.runtime.services.serve.kserve import Request

    survives(Request, body, header_length)


DATATYPES = st.sampled_from(["FP32", "FP16", "FP64", "INT8", "INT32", "INT64", "UINT8", "BOOL", "BYTES", "fp32", "X"])
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(), st.text(max_size=8))
TENSOR = st.fixed_dictionaries({}, optional={
    "name": st.one_of(st.text(max_size=8), st.lists(st.text(max_size=3), max_size=2), st.integers()),
    "shape": st.one_of(st.lists(st.integers(-3, 2**63), max_size=4), SCALAR),
    "datatype": st.one_of(DATATYPES, SCALAR),
    "data": st.one_of(st.lists(st.one_of(SCALAR, st.lists(SCALAR, max_size=3)), max_size=8), SCALAR),
    "parameters": st.one_of(st.dictionaries(st.sampled_from(["binary_data_size", "binary_data", "x"]),
                                            st.one_of(SCALAR, st.integers(0, 3000)), max_size=2), SCALAR, JSON),
})
REQUEST = st.fixed_dictionaries({}, optional={
    "id": SCALAR, "inputs": st.one_of(st.lists(TENSOR, max_size=3), SCALAR),
    "outputs": st.one_of(st.lists(TENSOR, max_size=2), SCALAR), "parameters": st.one_of(JSON, SCALAR),
})


@fuzz
@given(REQUEST, st.binary(max_size=64), st.booleans())
def test_kserve_requests_shaped_like_requests(doc, tail, with_header):
    """JSON that looks like an inference request (the fields right, their values anything), with binary data after
    it: the parser reaches every field check that random bytes never get past."""
    from edgeward.runtime.services.serve.kserve import Request

    body = json.dumps(doc).encode()
    survives(Request, body + tail, str(len(body)) if with_header else None)


@fuzz
@given(st.text(max_size=600))
def test_keras_config_text(text):
    from edgeward.core.keras_scan import code_layers, decode_config

    config = survives(decode_config, text, "m.h5")
    if config is not None:
        assert isinstance(code_layers(config), list)


@fuzz
@given(JSON, st.lists(st.integers(0, 5), max_size=6), st.sampled_from(["Lambda", "\\u004cambda", "keras.layers.Lambda",
                                                                         "__lambda__"]), st.booleans())
def test_a_lambda_hidden_in_any_config_is_found(config, path, spelling, reorder):
    """A Lambda layer put anywhere in a random config, spelled any way Keras reads, keys in any order: always found."""
    from edgeward.core.keras_scan import code_layers, decode_config

    lam = f'{{"config": {{"name": "hidden"}}, "class_name": "{spelling}"}}' if reorder else \
        f'{{"class_name": "{spelling}", "config": {{"name": "hidden"}}}}'
    node, text = config, None
    for step in path:  # walk into the random config; put the Lambda at the first place that is not a container
        if isinstance(node, list) and node:
            node = node[step % len(node)]
        elif isinstance(node, dict) and node:
            node = node[sorted(node)[step % len(node)]]
        else:
            break
    marker = "\x00HERE\x00"
    if isinstance(node, list):
        node.append(marker)
    elif isinstance(node, dict):
        node["\x00k"] = marker
    else:
        config = [config, marker]
    text = json.dumps(config).replace(json.dumps(marker), lam, 1)
    assert "hidden" in code_layers(decode_config(text, "m.h5"))


@pytest.fixture(scope="module")
def scorer(fraud_model):
    from edgeward.runtime import FraudScorer

    with FraudScorer.from_file(fraud_model, threads=1) as s:
        yield s


def test_csv_rows_through_score(scorer, fraud_csv, tmp_path):
    """Random lines among real ones: every line that is a row lands in scores or rejects, never an exception."""
    import pandas as pd

    from edgeward.runtime import score_csv

    lines = Path(fraud_csv).read_bytes().splitlines(keepends=True)[:40]

    @fuzz
    @given(st.lists(st.binary(max_size=300), min_size=1, max_size=6), st.integers(1, 39))
    def check(garbage, at):
        path = tmp_path / "in.csv"
        data = b"".join(lines[:at]) + b"\n".join(g.replace(b"\n", b" ") for g in garbage) + b"\n" + b"".join(lines[at:])
        path.write_bytes(data)
        s = survives(score_csv, scorer, path, tmp_path / "out.csv")
        if s is not None:
            assert s.rows == s.scored + s.rejected
            assert len(pd.read_csv(tmp_path / "out.csv")) == s.scored

    check()


@pytest.mark.parametrize("target", ["wav", "manifest", "onnx", "tflite", "image", "kserve", "keras"])
def test_atheris_targets(target, tmp_path):
    """A short coverage-guided run of each atheris target (tests/fuzz_atheris.py; `make fuzz` runs 1,000,000)."""
    import subprocess
    import sys

    pytest.importorskip("atheris")
    runs = max(1000, EXAMPLES * 10)
    done = subprocess.run([sys.executable, str(Path(__file__).parents[1] / "fuzz_atheris.py"), target, f"-runs={runs}",
                           "-seed=1"], capture_output=True, text=True, timeout=600, cwd=tmp_path)  # a crash's input goes there
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"Done {runs} runs" in done.stderr


def test_atheris_memory_limit_counts_what_the_target_uses_not_what_its_parent_did(tmp_path):
    """Linux hands a child the peak resident size of the process that started it, and libFuzzer's limit is on that
    peak (docs/decisions.md, "Fuzzing under a large parent"). The harness limits the target's own growth: started
    from a 2.5 GB parent, a target runs its three seconds."""
    import subprocess
    import sys

    pytest.importorskip("atheris")
    harness = Path(__file__).parents[1] / "fuzz_atheris.py"
    parent = ("import subprocess, sys\n"
              "held = bytearray(2500 << 20)  # written, so resident\n"
              f"done = subprocess.run([sys.executable, {str(harness)!r}, 'wav', '-max_total_time=3', '-seed=1'],"
              " capture_output=True, text=True)\n"
              "sys.stderr.write(done.stderr[-2000:]); sys.exit(done.returncode)\n")
    done = subprocess.run([sys.executable, "-c", parent], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Done " in done.stderr  # three seconds: libFuzzer checks the resident size once a second
    peak = int(done.stderr.split("rss: ")[1].split("Mb")[0])
    assert peak >= 2500  # the inherited peak is what libFuzzer sees, and it passed
