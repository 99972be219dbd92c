"""Safe loading: ONNX external data kept inside the model's folder, manifests bounded in size and depth, and
``edgeward verify`` against the hash each exported file records for itself."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from edgeward.app.cli import main
from edgeward.core.errors import ManifestError, ModelFileError
from edgeward.core.manifest import METADATA_KEY, Manifest, json_depth
from edgeward.core.seal import UNSEALED, seal
from edgeward.runtime import Model
from edgeward.runtime.engine.onnx_external import escapes, external_data
from edgeward.runtime.engine.verify import verify_model


def _manifest_text(model_path: Path) -> str:
    proto = onnx.load(model_path)
    return next(p.value for p in proto.metadata_props if p.key == METADATA_KEY)


def _external_model(folder: Path, location: str, manifest_text: str, in_subgraph: bool = False) -> Path:
    """x (4) + w, where w's 4 floats live in the file ``location`` (ONNX external data)."""
    w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4], data_location=TensorProto.EXTERNAL)
    entry = w.external_data.add()
    entry.key, entry.value = "location", location
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])
    if in_subgraph:  # the tensor hidden in a Constant inside an If branch
        branch = helper.make_graph([helper.make_node("Constant", [], ["w"], value=w)], "b", [],
                                   [helper.make_tensor_value_info("w", TensorProto.FLOAT, [4])])
        nodes = [helper.make_node("Constant", [], ["c"], value=helper.make_tensor("c", TensorProto.BOOL, [], [True])),
                 helper.make_node("If", ["c"], ["wv"], then_branch=branch, else_branch=branch),
                 helper.make_node("Add", ["x", "wv"], ["y"])]
        graph = helper.make_graph(nodes, "g", [x], [y])
    else:
        graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g", [x], [y], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    data = json.loads(manifest_text)
    data["inputs"] = [{**data["inputs"][0], "name": "x", "shape": [4]}]
    data["outputs"] = [{**data["outputs"][0], "name": "y", "shape": [4]}]
    model.metadata_props.add(key=METADATA_KEY, value=json.dumps(data))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.onnx"
    path.write_bytes(model.SerializeToString())
    return path


@pytest.mark.parametrize("location", ["../secret.bin", "/etc/passwd", "weights/../../secret.bin", "C:\\secret.bin"])
def test_external_data_outside_the_folder_is_refused_before_loading(fraud_model, tmp_path, location):
    (tmp_path / "secret.bin").write_bytes(np.arange(4, dtype=np.float32).tobytes())
    path = _external_model(tmp_path / "m", location, _manifest_text(fraud_model))
    with pytest.raises(ModelFileError, match=f"tensor 'w' keeps its data outside the file at '{location.replace(chr(92), '.')}'"):
        Model(path, device="x86-64-cpu")


def test_external_data_hidden_in_a_subgraph_is_found(fraud_model, tmp_path):
    path = _external_model(tmp_path, "/etc/passwd", _manifest_text(fraud_model), in_subgraph=True)
    assert external_data(path.read_bytes()) == [("w", "/etc/passwd")] * 2  # the then and the else branch
    with pytest.raises(ModelFileError, match="refused before loading"):
        Model(path, device="x86-64-cpu")


def test_external_data_beside_the_model_loads(fraud_model, tmp_path):
    (tmp_path / "w.bin").write_bytes(np.arange(4, dtype=np.float32).tobytes())
    path = _external_model(tmp_path, "w.bin", _manifest_text(fraud_model))
    with Model(path, device="x86-64-cpu") as model:
        assert model.run({"x": np.ones(4, np.float32)})["y"].tolist() == [1, 2, 3, 4]
    with pytest.raises(ModelFileError, match="load it from its path"):
        Model(path.read_bytes(), device="x86-64-cpu")


def test_what_escapes():
    assert [escapes(p) for p in ["w.bin", "weights/w.bin", "./w.bin", "", "..", "/w", "a/../../w", "D:w", "\\\\host\\w"]] == \
        [False, False, False, True, True, True, True, True, True]


def test_manifest_size_and_depth_are_bounded():
    assert json_depth('{"a": [1, {"b": "]]]["}]}') == 3
    with pytest.raises(ManifestError, match="nested 5000 levels deep; expected at most 32"):
        Manifest.from_json("[" * 5000 + "]" * 5000, "m.onnx")
    with pytest.raises(ManifestError, match="manifest of 5,000,002 bytes; expected at most 4,194,304"):
        Manifest.from_json('"' + "x" * 5_000_000 + '"', "m.onnx")


def test_seal_writes_the_hash_in_place():
    data = b"head" + b'{"artifact_sha256": "' + UNSEALED.encode() + b'"}' + b"tail"
    sealed = seal(data)
    assert len(sealed) == len(data) and sealed != data and sealed.startswith(b"head") and sealed.endswith(b"tail")
    with pytest.raises(ValueError, match="once in the file"):
        seal(data + data)  # two placeholders: which one is the manifest's?


def test_verify_an_exported_file_and_catch_every_kind_of_change(fraud_run, detect_run, tmp_path, capsys):
    artifacts = sorted((fraud_run / "artifacts").glob("model*.*")) + sorted((detect_run / "artifacts").glob("model*.*"))
    assert {p.suffix for p in artifacts} == {".onnx", ".tflite"} and len(artifacts) >= 4
    assert main(["verify", *map(str, artifacts)]) == 0
    out = capsys.readouterr().out
    assert out.count(": ok, intact since it was sealed; this does not show who made it") == len(artifacts)

    original = (fraud_run / "artifacts" / "model.onnx").read_bytes()
    recorded = verify_model(fraud_run / "artifacts" / "model.onnx").sha256
    proto = onnx.load_from_string(original)
    proto.graph.initializer[0].raw_data = bytes(reversed(proto.graph.initializer[0].raw_data))  # weights changed
    changed = tmp_path / "weights.onnx"
    changed.write_bytes(proto.SerializeToString())
    tampered = tmp_path / "threshold.onnx"  # a digit of the threshold changed in the embedded manifest
    text = _manifest_text(fraud_run / "artifacts" / "model.onnx")
    digit = re.search(r'"thresholds": \{"[^"]+": 0\.(\d)', text)
    edited = text[:digit.start(1)] + str((int(digit.group(1)) + 1) % 10) + text[digit.end(1):]
    tampered.write_bytes(original.replace(text.encode(), edited.encode()))
    assert Model(tampered).manifest.thresholds != Model(fraud_run / "artifacts" / "model.onnx").manifest.thresholds
    for path in (changed, tampered):
        assert main(["verify", str(path)]) == 2
        err = capsys.readouterr().err
        assert f"error: {path}: modified since export: its SHA-256 is " in err and f"records {recorded}" in err

    data = json.loads(text)
    data["provenance"]["artifact_sha256"] = ""  # a file from before edgeward sealed its exports
    proto = onnx.load_from_string(original)
    next(p for p in proto.metadata_props if p.key == METADATA_KEY).value = json.dumps(data)
    old = tmp_path / "old.onnx"
    old.write_bytes(proto.SerializeToString())
    assert main(["verify", str(old)]) == 2
    assert "records no artifact_sha256 (exported before edgeward 0.3)" in capsys.readouterr().err


def test_verify_of_a_file_without_a_manifest_or_not_a_model(fraud_model, tmp_path):
    proto = onnx.load(fraud_model)
    del proto.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    bare.write_bytes(proto.SerializeToString())
    with pytest.raises(ManifestError, match="bare.onnx: no edgeward manifest in the file"):
        verify_model(bare)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\xff" * 64)
    with pytest.raises(ModelFileError, match="junk.onnx: expected an ONNX or TFLite model"):
        verify_model(junk)
