from __future__ import annotations

import json

import pytest

from edgeward.core.errors import ManifestError
from edgeward.core.manifest import SCHEMA_VERSION, Manifest, Metric, Provenance, TensorInfo


def _manifest() -> Manifest:
    return Manifest(
        task="fraud", format="onnx", precision="fp32",
        inputs=(TensorInfo("features", (None, 3), "float32", "NF", "inside-model"),),
        outputs=(TensorInfo("p", (None, 1), "float32"),),
        labels=("legit", "fraud"), features=("a", "b", "c"), thresholds={"decision": 0.7},
        metrics=(Metric("auprc", 0.5, "test"),),
        provenance=Provenance("0.1.0", {"onnx": "1"}, "aa", "bb", "cc", "2026-01-01T00:00:00+00:00"),
        params={"label": "y"},
    )


def test_round_trip():
    m = _manifest()
    assert Manifest.from_json(m.to_json()) == m
    assert json.loads(m.to_json())["schema"] == SCHEMA_VERSION


def test_unknown_schema_version_is_a_clear_error():
    data = json.loads(_manifest().to_json())
    data["schema"] = 99
    with pytest.raises(ManifestError, match=r"m.onnx: manifest schema version 99 is not supported \(this edgeward reads version 1"):
        Manifest.from_dict(data, "m.onnx")


@pytest.mark.parametrize("field", ["task", "inputs", "features", "thresholds", "provenance"])
def test_missing_field_names_it(field):
    data = json.loads(_manifest().to_json())
    del data[field]
    with pytest.raises(ManifestError, match=f"m.onnx: manifest field 'manifest.{field}' is missing"):
        Manifest.from_dict(data, "m.onnx")


def test_missing_nested_field_names_its_path():
    data = json.loads(_manifest().to_json())
    del data["inputs"][0]["dtype"]
    with pytest.raises(ManifestError, match=r"manifest field 'inputs\[0\].dtype' is missing"):
        Manifest.from_dict(data, "m.onnx")


def test_unknown_task_lists_choices():
    data = json.loads(_manifest().to_json())
    data["task"] = "poetry"
    with pytest.raises(ManifestError, match="expected one of fraud, commands, detect, classify, generic, got 'poetry'"):
        Manifest.from_dict(data, "m.onnx")


def test_not_json():
    with pytest.raises(ManifestError, match="m.onnx: manifest is not valid JSON"):
        Manifest.from_json("{nope", "m.onnx")
