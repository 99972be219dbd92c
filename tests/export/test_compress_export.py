"""The compression and export engine on a tiny real model: pruning, QAT, every format and precision,
validation budgets and their failure path, the int8 candidate search, the recommendation, Keras 3
input and the Flex failure path."""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import pytest

from edgeward.app.cli import main
from edgeward.core.errors import ExportError, InputError
from edgeward.export.artifacts import ArtifactSpec, Format, Precision, Source
from edgeward.export.engine import ExportOptions, available_specs, export_run
from edgeward.export.validate import Budget, ValidationError
from edgeward.runtime import FraudScorer, Model
from edgeward.train.compress import CompressConfig, compress_run

pytest.importorskip("ai_edge_litert", reason="the tflite extra (ai-edge-litert) is not installed")


@pytest.fixture(scope="module")
def compressed(fraud_run, tmp_path_factory):
    """A copy of the fixture run with QAT, 50% pruning and pruning + QAT models."""
    run = tmp_path_factory.mktemp("compressed") / "run"
    shutil.copytree(fraud_run, run)
    compress_run(run, CompressConfig(qat=True, qat_epochs=1))
    compress_run(run, CompressConfig(sparsity=0.5, qat=True, prune_epochs=2, qat_epochs=1))
    return run


def test_pruning_reaches_the_target_sparsity_per_layer(compressed):
    report = json.loads((compressed / "compress.json").read_text())
    assert set(report) >= {"base", "pruned", "qat", "pruned-qat"}
    assert report["pruned"]["sparsity"] and all(0.49 <= s <= 0.51 for s in report["pruned"]["sparsity"].values())
    for key in ("pruned", "qat", "pruned-qat"):
        assert (compressed / report[key]["file"]).exists() and 0.0 <= report[key]["metric"] <= 1.0


@pytest.fixture(scope="module")
def exported(compressed):
    specs = available_specs(compressed)
    report = export_run(compressed, ExportOptions(specs=specs, budget=Budget(max_drop=100.0)))
    return compressed, specs, report


def test_every_format_and_precision_is_exported_checked_and_runs(exported):
    run, specs, report = exported
    names = {s.name for s in specs}
    assert names >= {"model.onnx", "model-fp16.onnx", "model-int8.onnx", "model.tflite", "model-fp16.tflite",
                     "model-int8-dynamic.tflite", "model-qat-int8.onnx", "model-qat-int8.tflite",
                     "model-pruned-int8.onnx", "model-pruned-qat-int8.onnx", "model-pruned-qat-int8.tflite"}
    assert {c.artifact for c in report.checks} == names and not report.errors
    x = np.load(run / "holdout.npz")["x_test"][:5]
    for spec in specs:
        with Model(run / "artifacts" / spec.name) as m:
            assert (m.manifest.format, m.manifest.precision) == (spec.format.value, spec.precision.value)
            assert m.manifest.params["source"] == spec.source.value
            assert {x.name for x in m.manifest.metrics} == {"auprc", "roc_auc", "decision_agreement"}
            assert m.run({"features": x})[m.output_names[0]].shape == (5, 1)
    checks = {c.artifact: c for c in report.checks}
    assert checks["model.onnx"].max_abs_diff <= 1e-5 and checks["model.tflite"].max_abs_diff <= 1e-5
    assert checks["model-fp16.onnx"].max_abs_diff <= 1e-2 and checks["model-fp16.onnx"].check.startswith("max abs diff")
    assert checks["model-int8.onnx"].check == "metric drop vs fp32 keras"
    assert all(0.0 <= c.agreement <= 1.0 for c in report.checks)
    validation = json.loads((run / "validation.json").read_text())
    assert len(validation["artifacts"]) == len(specs)
    rec = validation["recommendation"]
    assert rec["artifact"] in names and rec["reason"] and set(rec["latency_p50_us"]) <= names


def test_int8_stores_weights_in_int8_and_pruning_keeps_zeros(exported):
    run, _, _ = exported
    fp32 = (run / "artifacts" / "model.onnx").stat().st_size
    for name in ("model-int8.onnx", "model-qat-int8.onnx", "model-pruned-qat-int8.onnx"):
        proto = onnx.load(run / "artifacts" / name)
        int8 = [onnx.numpy_helper.to_array(t) for t in proto.graph.initializer if t.data_type == onnx.TensorProto.INT8]
        assert int8 and sum(w.size for w in int8) > 100, name
        if name.startswith("model-pruned"):
            weights = max(int8, key=lambda w: w.size)
            assert (weights == 0).mean() >= 0.45  # QAT after pruning kept the zeros
    assert fp32 < 10_000  # sizes of so small a model are QDQ overhead: the benchmark compares them on the real one


def test_a_budget_failure_is_raised_after_every_artifact_was_checked(compressed):
    specs = (ArtifactSpec(Format.ONNX, Precision.FP32), ArtifactSpec(Format.ONNX, Precision.INT8),
             ArtifactSpec(Format.TFLITE, Precision.INT8_DYNAMIC))
    with pytest.raises(ValidationError) as info:
        export_run(compressed, ExportOptions(specs=specs, budget=Budget(max_drop=-1000.0), recommend=False))
    message = str(info.value)
    assert message.startswith("2 artifact(s) outside their budget or not exported: ")
    assert "model-int8.onnx: auprc drop" in message and "> -1000" in message and "model-int8-dynamic.tflite" in message
    entries = {a["artifact"]: a for a in json.loads((compressed / "validation.json").read_text())["artifacts"]}
    assert entries["model.onnx"]["passed"] and not entries["model-int8.onnx"]["passed"]


def test_int8_search_tries_candidates_then_sensitive_nodes(compressed):
    spec = ArtifactSpec(Format.ONNX, Precision.INT8)
    with pytest.raises(ValidationError):
        export_run(compressed, ExportOptions(specs=(spec,), budget=Budget(max_drop=-1000.0), search=True, recommend=False))
    tried = json.loads((compressed / "validation.json").read_text())["search"]
    methods = [t["method"] for t in tried]
    assert len(methods) >= 7 and len(set(methods)) == len(methods)
    assert any("per-tensor" in m for m in methods) and any("entropy" in m for m in methods)
    assert tried[-1]["excluded"]  # then compute nodes kept in float, most sensitive first
    report = export_run(compressed, ExportOptions(specs=(spec,), budget=Budget(max_drop=100.0), search=True, recommend=False))
    assert len(report.search) == 1 and report.checks[0].passed  # the first candidate within budget ends the search


def test_tflite_full_integer_is_refused_for_raw_feature_models_with_the_reason(compressed, capsys):
    assert main(["export", str(compressed), "--format", "tflite", "--precision", "int8"]) == 2
    assert "model-int8.tflite: not supported for this model: TFLite full-integer int8 would quantize the raw input" in capsys.readouterr().err


def test_spec_combinations_are_checked():
    with pytest.raises(InputError, match="a QAT model exports as int8, got precision fp16"):
        ArtifactSpec(Format.ONNX, Precision.FP16, Source.QAT).check()
    with pytest.raises(InputError, match="int8-dynamic is a TFLite precision"):
        ArtifactSpec(Format.ONNX, Precision.INT8_DYNAMIC).check()


def test_export_of_a_compressed_model_that_was_not_made(fraud_run, capsys):
    assert main(["export", str(fraud_run), "--source", "pruned"]) == 2
    assert "model-pruned.keras: not found; make it with `edgeward compress" in capsys.readouterr().err


def test_flex_ops_fail_the_tflite_export_with_their_name_and_layer():
    from edgeward.core.keras_env import tensorflow
    from edgeward.core.keras_env import tf_keras as keras
    from edgeward.export.tflite_export import keras_to_tflite

    tf, k = tensorflow(), keras()
    inputs = k.Input((4,))
    model = k.Model(inputs, k.layers.Lambda(lambda t: tf.math.special.bessel_i0e(t), name="bessel")(inputs))
    with pytest.raises(ExportError, match="TFLite export needs op\\(s\\) BesselI0e \\(layer bessel\\) outside the TFLite builtins"):
        keras_to_tflite(model, ArtifactSpec(Format.TFLITE, Precision.FP32))


def test_keras3_model_is_exported_and_quantized_but_not_compressed(fraud_csv, tmp_path, capsys):
    import keras as keras3

    assert keras3.__version__.startswith("3.")
    import pandas as pd

    features = [c for c in pd.read_csv(fraud_csv, nrows=1).columns
                if c not in ("tx_id", "timestamp", "customer_id", "terminal_id", "is_fraud")]
    frame = pd.read_csv(fraud_csv)
    x, y = frame[features].to_numpy(np.float32), frame["is_fraud"].to_numpy(np.float32)
    norm = keras3.layers.Normalization()
    norm.adapt(x)
    model = keras3.Sequential([keras3.Input((len(features),)), norm, keras3.layers.Dense(8, activation="relu"),
                               keras3.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy")
    model.fit(x, y, epochs=1, batch_size=512, verbose=0)
    path = tmp_path / "k3.keras"
    model.save(path)

    run = tmp_path / "run"
    assert main(["train", "fraud", "--data", str(fraud_csv), "--label", "is_fraud", "--out", str(run),
                 "--from-model", str(path), "--no-baseline"]) == 0
    assert "adopted" in capsys.readouterr().out
    code = main(["export", str(run), "--format", "all", "--precision", "fp32,int8-dynamic", "--max-drop", "100"])
    assert code == 0, capsys.readouterr().err
    assert main(["export", str(run), "--precision", "int8", "--max-drop", "100"]) == 0
    capsys.readouterr()
    for name in ("model.onnx", "model.tflite", "model-int8-dynamic.tflite", "model-int8.onnx"):
        with FraudScorer.from_file(run / "artifacts" / name) as scorer:
            np.testing.assert_allclose(scorer.score(x[:50]), model.predict(x[:50], verbose=0).reshape(-1),
                                       atol=1e-5 if name in ("model.onnx", "model.tflite") else 0.2)
    assert main(["compress", str(run), "--qat"]) == 2
    err = capsys.readouterr().err
    assert "is a Keras 3 model, and pruning and quantization-aware training need tf_keras" in err
    assert f"edgeward export {run} --precision int8" in err


def test_compress_cli_needs_something_to_do(fraud_run, capsys):
    message = "sparsity (--sparsity) and qat (--qat): expected one or both, got neither"
    assert main(["compress", str(fraud_run)]) == 2
    assert capsys.readouterr().err.strip() == f"error: {message}"
    with pytest.raises(InputError) as refused:
        CompressConfig()
    assert str(refused.value) == message
    assert main(["compress", str(fraud_run), "--sparsity", "1.5"]) == 2
    assert "sparsity (--sparsity): expected a share between 0 and 1, got 1.5" in capsys.readouterr().err


def test_onnx_int8_settings_follow_the_target():
    from edgeward.devices import load_profile
    from edgeward.devices.cpu import CpuClass
    from edgeward.export.artifacts import Activations, ArtifactSpec, Format, Precision, Source
    from edgeward.export.engine import for_target

    specs = (ArtifactSpec(Format.ONNX, Precision.INT8), ArtifactSpec(Format.ONNX, Precision.INT8, Source.QAT),
             ArtifactSpec(Format.TFLITE, Precision.INT8), ArtifactSpec(Format.ONNX, Precision.FP32))
    x86 = load_profile("x86-64-cpu")
    assert x86.cpu == (CpuClass.AVX2, CpuClass.VNNI)
    assert [s.activations for s in for_target(specs, x86, x86.cpu)] == [Activations.U8] * 4
    jetson = load_profile("jetson-orin")
    tensorrt = for_target(specs, jetson, jetson.cpu)  # TensorRT takes symmetric int8 only
    assert tensorrt[0].activations is Activations.S8 and tensorrt[1:] == specs[1:]
    assert "u8 activations" in specs[0].describe() and "s8 activations" in tensorrt[0].describe()
    # 7-bit weights exactly where a target CPU adds u8 x s8 pairs in 16 bits (AVX2 without VNNI), and only for the
    # post-training ONNX int8 file
    assert [s.reduce_range for s in for_target(specs, x86, x86.cpu)] == [True, False, False, False]
    assert not any(s.reduce_range for s in for_target(specs, x86, (CpuClass.VNNI, CpuClass.ARM64)))
    assert not tensorrt[0].reduce_range  # the Jetson's CPU is arm64
    assert "7-bit weights" in for_target(specs, x86, x86.cpu)[0].describe()


def test_int8_onnx_uses_uint8_activations_on_cpu(fraud_run, tmp_path):
    from onnx import numpy_helper

    run = tmp_path / "run"
    shutil.copytree(fraud_run, run)
    export_run(run, ExportOptions(specs=(ArtifactSpec(Format.ONNX, Precision.INT8),), budget=Budget(max_drop=100)))
    graph = onnx.load(run / "artifacts" / "model-int8.onnx").graph
    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    zero_points = [consts[n.input[2]] for n in graph.node if n.op_type == "QuantizeLinear" and len(n.input) > 2]
    assert zero_points and all(z.dtype == np.uint8 for z in zero_points)
    assert all(len(n.name) <= 24 for n in graph.node)  # converter names compacted


def test_onnx_calibration_batches_shrink_for_big_inputs():
    # onnxruntime keeps a whole batch's activations while it calibrates: equal batches of at most BATCH_VALUES
    # input values keep big inputs (ResNet50 at 224x224) within memory
    from edgeward.export.onnx_quantize import BATCH_VALUES, _Reader

    def sizes(feeds):
        return [len(next(iter(b.values()))) for b in iter(_Reader(feeds).get_next, None)]

    assert sizes({"image": np.zeros((100, 224, 224, 3), np.float32)}) == [BATCH_VALUES // (224 * 224 * 3)] * 16 == [6] * 16
    assert sizes({"x": np.zeros((120, 20), np.float32)}) == [50, 50]  # small rows: batches of 50, as before
    assert sizes({"a": np.zeros((30, 4), np.float32), "b": np.zeros((30, 4), np.int32)}) == [30]
