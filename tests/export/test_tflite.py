"""TFLite artifacts: the manifest travels inside the flatbuffer; LiteRT runs them in the runtime."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgeward.app.cli import main
from edgeward.core.errors import ModelFileError
from edgeward.core.manifest import METADATA_KEY
from edgeward.runtime import FraudScorer, Model
from edgeward.runtime.engine.tflite_metadata import read_metadata

pytest.importorskip("ai_edge_litert", reason="the tflite extra (ai-edge-litert) is not installed")


@pytest.fixture(scope="module")
def tflite_model(fraud_run):
    assert main(["export", str(fraud_run), "--format", "tflite"]) == 0
    return fraud_run / "artifacts" / "model.tflite"


def test_tflite_export_carries_the_manifest_and_matches_onnx(tflite_model, fraud_run):
    meta = read_metadata(tflite_model.read_bytes())
    assert json.loads(meta[METADATA_KEY])["format"] == "tflite"
    x = np.load(fraud_run / "holdout.npz")["x_test"]
    with Model(tflite_model) as t, Model(fraud_run / "artifacts" / "model.onnx") as o:
        assert t.backend.value == "tflite" and t.manifest.features == o.manifest.features
        assert t.output_names == o.output_names == ("fraud_probability",)  # run()'s keys: the same in every format
        got, want = t.run(x)[t.output_names[0]], o.run(x)[o.output_names[0]]
        assert got.shape == want.shape == (len(x), 1)
        assert np.abs(got - want).max() <= 1e-5
        assert t.run(x[:1])[t.output_names[0]].shape == (1, 1)  # batch resized back down
    with FraudScorer.from_file(tflite_model) as scorer:
        assert scorer.score(x[:7]).shape == (7,)
    entries = json.loads((fraud_run / "validation.json").read_text())["artifacts"]
    assert {e["artifact"] for e in entries} >= {"model.onnx", "model.tflite"}


def test_truncated_tflite_is_a_clear_error(tflite_model, tmp_path):
    data = tflite_model.read_bytes()
    bad = tmp_path / "cut.tflite"
    bad.write_bytes(data[:64])
    with pytest.raises(ModelFileError, match="cut.tflite: not a readable TFLite flatbuffer"):
        Model(bad)


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")  # and no ignored traceback after it
def test_a_profile_whose_delegate_is_missing_says_so(tflite_model):
    from edgeward.core.errors import DeviceError

    with pytest.raises(DeviceError, match="device profile 'coral' needs the TFLite delegate libedgetpu.so.1, which could not be loaded"):
        Model(tflite_model, device="coral")
