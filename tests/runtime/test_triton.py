"""`edgeward triton`: a Triton model repository whose every config.pbtxt parses as Triton's own `ModelConfig`
(the protobuf `tritonclient` ships) with the inputs, outputs, batching, instances and manifest of the model; a
TFLite file refused; and the repository served by edgeward's own server, driven by `tritonclient.http`. Triton
itself cannot run here (it ships as a container)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from serving import running

from edgeward.app.cli import main
from edgeward.runtime import Model

httpclient = pytest.importorskip("tritonclient.http")


def _config(path):
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    return text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())


def test_a_repository_triton_would_load_and_edgeward_serves(fraud_run, tmp_path, capsys):
    onnx = fraud_run / "artifacts" / "model.onnx"
    repo = tmp_path / "repo"
    assert main(["triton", str(repo), str(onnx), f"scorer={onnx}", "--preferred-batch", "4,16"]) == 0
    assert "docker run" in capsys.readouterr().out
    with Model(onnx) as m:
        manifest, features = m.manifest, len(m.manifest.features)
        x = np.load(fraud_run / "holdout.npz")["x_test"][:7]
        expected = m.run(x)[m.output_names[0]]
    for name in ("fraud", "scorer"):
        config = _config(repo / name / "config.pbtxt")
        assert config.name == name and config.backend == "onnxruntime" and config.max_batch_size == 64
        assert [(i.name, i.data_type, list(i.dims)) for i in config.input] == [("features", 1 + 10, [features])]  # TYPE_FP32
        assert [(o.name, list(o.dims)) for o in config.output] == [(manifest.outputs[0].name, [1])]
        assert list(config.dynamic_batching.preferred_batch_size) == [4, 16]
        assert config.dynamic_batching.max_queue_delay_microseconds == 200
        assert [(g.count, g.kind) for g in config.instance_group] == [(1, 2)]  # KIND_CPU
        assert json.loads(config.parameters["edgeward.manifest"].string_value) == json.loads(manifest.to_json())
        assert (repo / name / "1" / "model.onnx").read_bytes() == onnx.read_bytes()
    with running([str(repo)]) as url:
        client = httpclient.InferenceServerClient(url=url)
        assert client.is_model_ready("fraud") and client.is_model_ready("scorer")
        item = httpclient.InferInput("features", list(x.shape), "FP32")
        item.set_data_from_numpy(x)
        got = client.infer("scorer", [item]).as_numpy(manifest.outputs[0].name)
        np.testing.assert_array_equal(got, expected)
        # the repository's configuration as Triton gives it, and its max_batch_size held as Triton holds it
        config = client.get_model_config("scorer")
        assert config["max_batch_size"] == 64 and config["platform"] == "onnxruntime_onnx"
        assert config["input"] == [{"name": "features", "data_type": "TYPE_FP32", "dims": [features]}]  # no batch dim
        assert config["output"][0]["dims"] == [1]
        assert sorted(m["name"] for m in client.get_model_repository_index()) == ["fraud", "scorer"]
        big = np.zeros((65, features), np.float32)
        item = httpclient.InferInput("features", list(big.shape), "FP32")
        item.set_data_from_numpy(big)
        with pytest.raises(Exception, match=r"inference request batch-size must be <= 64 for 'scorer'"):
            client.infer("scorer", [item])
        item = httpclient.InferInput("features", [64, features], "FP32")
        item.set_data_from_numpy(big[:64])
        assert client.infer("scorer", [item]).as_numpy(manifest.outputs[0].name).shape == (64, 1)  # at the limit
        [stats] = client.get_inference_statistics("scorer")["model_stats"]
        assert stats["inference_count"] == 7 + 64 and stats["inference_stats"]["success"]["count"] == 2
        assert stats["inference_stats"]["fail"]["count"] == 1
        # the repository extension: unloaded, the model is refused; loaded again, its newest version and config serve
        client.unload_model("scorer")
        assert not client.is_model_ready("scorer") and client.is_model_ready("fraud")
        assert {m["name"]: m["state"] for m in client.get_model_repository_index()} == {"fraud": "READY",
                                                                                          "scorer": "UNAVAILABLE"}
        item = httpclient.InferInput("features", list(x.shape), "FP32")
        item.set_data_from_numpy(x)
        with pytest.raises(Exception, match="model 'scorer' is unloaded"):
            client.infer("scorer", [item])
        (repo / "scorer" / "2").mkdir()
        (repo / "scorer" / "2" / "model.onnx").write_bytes(onnx.read_bytes())
        config_file = repo / "scorer" / "config.pbtxt"
        config_file.write_text(config_file.read_text().replace("max_batch_size: 64", "max_batch_size: 8"))
        client.load_model("scorer")
        assert client.is_model_ready("scorer") and client.get_model_config("scorer")["max_batch_size"] == 8
        np.testing.assert_array_equal(client.infer("scorer", [item]).as_numpy(manifest.outputs[0].name), expected)
        item = httpclient.InferInput("features", [9, features], "FP32")
        item.set_data_from_numpy(big[:9])
        with pytest.raises(Exception, match=r"batch-size must be <= 8 for 'scorer'"):
            client.infer("scorer", [item])
        with pytest.raises(Exception, match="unknown model 'other'"):
            client.load_model("other")
        client.close()


def test_a_released_name_makes_a_repository_and_a_bad_model_leaves_nothing(released_fraud, tmp_path, capsys):
    repo = tmp_path / "repo"
    assert main(["triton", str(repo), "fraud-sim"]) == 0, capsys.readouterr().err
    assert _config(repo / "fraud-sim" / "config.pbtxt").name == "fraud-sim"  # the name given, not the task's
    assert (repo / "fraud-sim" / "1" / "model.onnx").read_bytes() == released_fraud.read_bytes()
    other = tmp_path / "other"
    assert main(["triton", str(other), "fraud-sim", str(tmp_path / "missing.onnx")]) == 2
    assert "missing.onnx: model file not found" in capsys.readouterr().err
    assert not other.exists()  # the first model's folder is not left behind


def test_gpu_profiles_ask_for_gpu_instances_and_tensorrt(fraud_run, tmp_path):
    onnx = fraud_run / "artifacts" / "model.onnx"
    assert main(["triton", str(tmp_path / "gpu"), str(onnx), "--device", "nvidia-gpu"]) == 0
    config = _config(tmp_path / "gpu" / "fraud" / "config.pbtxt")
    assert [g.kind for g in config.instance_group] == [1]  # KIND_GPU
    assert not config.optimization.execution_accelerators.gpu_execution_accelerator
    assert main(["triton", str(tmp_path / "jetson"), str(onnx), "--device", "jetson-orin"]) == 0
    accelerator = _config(tmp_path / "jetson" / "fraud" / "config.pbtxt").optimization.execution_accelerators
    trt = accelerator.gpu_execution_accelerator[0]
    assert trt.name == "tensorrt" and trt.parameters["precision_mode"] == "FP16"
    assert main(["triton", str(tmp_path / "twice"), f"a={onnx}", f"a={onnx}"]) == 2  # two models of one name


def test_tflite_is_refused_and_a_manifest_travels_in_the_config(fraud_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(fraud_run, run)
    assert main(["export", str(run), "--format", "tflite", "--precision", "fp32"]) == 0
    capsys.readouterr()
    assert main(["triton", str(tmp_path / "repo"), str(run / "artifacts" / "model.tflite")]) == 2
    assert "a TFLite model; Triton has no TFLite backend" in capsys.readouterr().err
    # a model file without the manifest (stripped, as another tool might leave it): the server reads the config's
    import onnx

    repo = tmp_path / "repo"
    assert main(["triton", str(repo), str(run / "artifacts" / "model.onnx")]) == 0
    proto = onnx.load(repo / "fraud" / "1" / "model.onnx")
    del proto.metadata_props[:]
    onnx.save(proto, repo / "fraud" / "1" / "model.onnx")
    from edgeward.runtime.services.serve.models import repository

    [(name, path, manifest, max_batch_size, _)] = repository(repo)
    assert name == "fraud" and path.endswith("1/model.onnx") and manifest.task == "fraud" and max_batch_size == 64
    (tmp_path / "empty").mkdir()
    assert main(["serve", str(tmp_path / "empty")]) == 2  # a folder that is no repository, run or model folder
    assert "a run folder with artifacts/ or a Triton repository, got a folder without one" in capsys.readouterr().err
