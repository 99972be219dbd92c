from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from edgeward.core.errors import DeviceError, InputError, ManifestError, ModelFileError, TensorError
from edgeward.devices import available_providers, load_profile
from edgeward.runtime import Model


def test_loads_from_path_and_bytes_with_the_same_manifest(fraud_model):
    with Model(fraud_model) as a, Model(fraud_model.read_bytes()) as b:
        assert a.manifest == b.manifest
        assert a.manifest.task == "fraud"
        assert a.input_names == ("features",)
        assert a.backend.value == "onnxruntime" and "CPUExecutionProvider" in a.providers
        x = np.random.default_rng(0).normal(size=(4, len(a.manifest.features))).astype(np.float32)
        ya, yb = a.run({"features": x}), b.run(x)
        assert list(ya) == list(a.output_names)
        np.testing.assert_array_equal(ya[a.output_names[0]], yb[b.output_names[0]])
        assert ya[a.output_names[0]].shape == (4, 1)
        a.warmup()


def test_manifest_carries_features_threshold_metrics_and_provenance(fraud_model):
    with Model(fraud_model) as m:
        man = m.manifest
        assert man.features[0] == "amount" and "term_risk_30d" in man.features
        assert 0.0 < man.thresholds["decision"] < 1.0
        assert {x.name for x in man.metrics} >= {"auprc", "roc_auc"}
        assert "tf2onnx" in man.provenance.packages and len(man.provenance.data_sha256) == 64
        assert man.inputs[0].shape == (None, len(man.features))


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="nope.onnx: model file not found"):
        Model(tmp_path / "nope.onnx")


def test_a_folder_stands_for_its_one_model(tmp_path, fraud_run):
    """A run folder, a folder of one model file and a Triton repository of one model are taken as that model
    wherever a file is; a folder of none or several is a one-line error naming what it holds."""
    with pytest.raises(InputError, match="expected a model file .*, a run folder with artifacts/ or a Triton "
                                         "repository, got a folder without one"):
        Model(tmp_path)
    run = tmp_path / "run"
    shutil.copytree(fraud_run, run)
    (run / "artifacts" / "model.tflite").unlink(missing_ok=True)  # another test may have exported one
    validation = json.loads((run / "validation.json").read_text())
    validation["recommendation"] = {"device": "x86-64-cpu", "artifact": "model-int8.onnx", "reason": "test"}
    (run / "validation.json").write_text(json.dumps(validation))
    shutil.copy(run / "artifacts" / "model.onnx", run / "artifacts" / "model-int8.onnx")
    with Model(run, device="x86-64-cpu") as model:
        assert model.source == str(run / "artifacts" / "model-int8.onnx")
    from edgeward.runtime.engine.catalogue import locate

    assert locate(run, load_profile("raspberry-pi-4")) == run / "artifacts" / "model.onnx"  # its only format the Pi runs
    (run / "artifacts" / "model.tflite").write_bytes(b"")  # recommended for another device: the run's in this one's format
    assert locate(run, load_profile("raspberry-pi-4")) == run / "artifacts" / "model.tflite"
    assert locate(run, load_profile("x86-64-cpu")) == run / "artifacts" / "model-int8.onnx"
    validation["recommendation"]["artifact"] = "../holdout.npz"  # a path out of artifacts/ is never followed
    (run / "validation.json").write_text(json.dumps(validation))
    assert locate(run, load_profile("x86-64-cpu")) == run / "artifacts" / "model.onnx"
    validation["recommendation"] = None
    (run / "validation.json").write_text(json.dumps(validation))
    with Model(run, device="x86-64-cpu") as model:  # no recommendation: the run's fp32 file in the profile's format
        assert model.source == str(run / "artifacts" / "model.onnx")
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(fraud_run / "artifacts" / "model.onnx", one / "fraud.onnx")
    with Model(one) as model:
        assert model.source == str(one / "fraud.onnx")
    shutil.copy(one / "fraud.onnx", one / "other.onnx")
    with pytest.raises(InputError, match="2 model files .fraud.onnx, other.onnx.; give one"):
        Model(one)
    shutil.rmtree(run / "artifacts")
    (run / "artifacts").mkdir()
    with pytest.raises(InputError, match="a run folder without an exported model .*; export it first"):
        Model(run)


def test_not_a_model(tmp_path):
    path = tmp_path / "notes.onnx"
    path.write_text("these are my notes, not a model\n" * 10)
    with pytest.raises(ModelFileError, match="notes.onnx: not a loadable ONNX model"):
        Model(path)


def test_onnx_without_manifest(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("Identity", ["x"], ["y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    path = tmp_path / "plain.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    with pytest.raises(ManifestError, match="plain.onnx: no edgeward manifest in the file"):
        Model(path)


@pytest.fixture()
def model(fraud_model):
    with Model(fraud_model) as m:
        yield m


def test_wrong_input_name(model):
    with pytest.raises(TensorError, match=r"unknown input 'x': expected one of \['features'\]"):
        model.run({"x": np.zeros((1, 20), np.float32)})


def test_wrong_shape(model):
    n = len(model.manifest.features)
    with pytest.raises(TensorError, match=rf"input 'features': expected shape \(N, {n}\), got \(2, 3\)"):
        model.run({"features": np.zeros((2, 3), np.float32)})


def test_wrong_dtype(model):
    with pytest.raises(TensorError, match="input 'features': expected dtype float32, got float64"):
        model.run({"features": np.zeros((1, len(model.manifest.features)))})


def test_nan_is_rejected(model):
    x = np.zeros((3, len(model.manifest.features)), np.float32)
    x[2, 1] = np.nan
    with pytest.raises(TensorError, match=r"expected finite values, got nan at index \(2, 1\)"):
        model.run(x)


def test_closed_model(fraud_model):
    m = Model(fraud_model)
    m.close()
    with pytest.raises(ModelFileError, match="model is closed"):
        m.run(np.zeros((1, len(m.manifest.features)), np.float32))


@pytest.mark.skipif("CUDAExecutionProvider" in available_providers(), reason="this host has CUDA")
def test_profile_with_a_missing_provider_says_so(fraud_model):
    with pytest.raises(DeviceError, match="device profile 'nvidia-gpu' needs CUDAExecutionProvider, but this onnxruntime offers"):
        Model(fraud_model, device="nvidia-gpu")


def test_profile_that_cannot_run_the_format(fraud_model):
    with pytest.raises(DeviceError, match=r"device profile 'coral' runs \['tflite'\], got a onnxruntime model"):
        Model(fraud_model, device=load_profile("coral"))


def test_threads_from_profile_or_argument(fraud_model):
    with Model(fraud_model, device="x86-64-cpu", threads=1) as m:
        assert m.profile.name == "x86-64-cpu"
