"""The detector end to end on a tiny generated set: targets and loss, training, export through the engine
(ONNX and TFLite, fp32 and int8), the runtime Detector on the exported files, and the video benchmark.
The model is far too short-trained to find digits; these tests check the plumbing and the geometry."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgeward.app.cli import main
from edgeward.core.rundir import RunDir
from edgeward.train.detect.config import DetectorShape
from edgeward.train.detect.model import build_detector, encode_targets

SHAPE = DetectorShape(size=160)  # as conftest's detect_run: half size, and the size travels through the manifest


def test_targets_peak_at_the_centre_cell_with_the_edge_distances():
    box = np.array([[50.0, 60.0, 90.0, 140.0]])  # centre (70, 100): cell column 8, row 12 at stride 8
    y = encode_targets([box], [np.array([3])], 10)
    assert y.shape == (1, 40, 40, 15)
    peaks = np.argwhere(y[0, :, :, :10] == 1.0)
    assert peaks.tolist() == [[12, 8, 3]]
    assert y[0, :, :, [0, 1, 2, 4, 5, 6, 7, 8, 9]].max() == 0.0  # other classes stay empty
    # cell centre (68, 100): 18 left, 40 up, 22 right, 40 down, as fractions of 320
    np.testing.assert_allclose(y[0, 12, 8, 10:14] * 320, [18, 40, 22, 40], atol=1e-4)
    assert y[0, 12, 8, 14] == 1.0 and y[0, 0, 0, 14] == 0.0  # regression weight: the Gaussian, zero far away
    assert (y[0, :, :, 14] > 0).sum() > 1  # cells near the centre regress the box too


def test_loss_rewards_the_right_heatmap_and_box():
    from edgeward.train.detect.model import detector_loss

    y = encode_targets([np.array([[50.0, 60.0, 90.0, 140.0]])], [np.array([3])], 10)
    perfect = np.concatenate([y[..., :10], y[..., 10:14]], axis=-1).clip(1e-4, 1 - 1e-4)
    wrong_box = perfect.copy()
    wrong_box[..., 10:14] *= 0.5
    wrong_class = perfect.copy()
    wrong_class[..., [3, 4]] = wrong_class[..., [4, 3]]
    loss = detector_loss(10)
    values = [float(loss(y, p)) for p in (perfect, wrong_box, wrong_class)]
    assert values[0] < values[1] and values[0] < values[2]


def test_model_size_and_output_range():
    from edgeward.core.keras_env import tf_keras as keras

    model = build_detector(keras(), 10)
    assert model.count_params() <= 2_000_000
    assert model.output_shape == (None, 40, 40, 14)
    out = model.predict(np.random.default_rng(0).random((2, 320, 320, 3), np.float32), verbose=0)
    assert out.min() >= 0.0 and out.max() <= 1.0  # one int8 scale fits every channel


def test_training_report_and_holdout(detect_run):
    record = RunDir(detect_run).record()
    assert record.task == "detect" and record.labels == tuple(str(d) for d in range(10))
    assert record.payload.shape["size"] == 160 and set(record.history["val_map50"]) == {"1", "2"}
    assert 0.0 <= record.metrics["model"]["map50"] <= 1.0
    holdout = np.load(detect_run / "holdout.npz")
    assert holdout["x_test"].shape == (8, 160, 160, 3) and holdout["x_test"].dtype == np.float32
    assert len(holdout["gt_boxes"]) == len(holdout["gt_classes"]) == len(holdout["gt_image"]) > 0
    assert holdout["gt_boxes"].max() <= 160  # model-input pixels


def test_every_artifact_exported_and_checked(detect_run):
    validation = json.loads((detect_run / "validation.json").read_text())
    checks = {c["artifact"]: c for c in validation["artifacts"]}
    assert set(checks) == {"model.onnx", "model-int8.onnx", "model.tflite", "model-int8.tflite"}
    assert checks["model.onnx"]["max_abs_diff"] <= 1e-5 and checks["model.onnx"]["metric_name"] == "map50"
    assert all(c["passed"] for c in checks.values())


@pytest.mark.parametrize("name", ["model.onnx", "model-int8.onnx", "model-int8.tflite"])
def test_detector_runs_the_exported_file_on_any_frame_size(detect_run, name):
    from edgeward.runtime.tasks.detect import Detector, DetectorOptions

    frame = np.random.default_rng(1).integers(0, 256, (240, 400, 3), dtype=np.uint8)
    with Detector.from_file(detect_run / "artifacts" / name, options=DetectorOptions(score_threshold=0.0, max_detections=5)) as det:
        assert det.head == "centernet" and det.size == 160
        found = det.detect(frame)
        manifest = det.model.manifest
    assert len(found) == 5  # threshold 0: the five strongest peaks
    for d in found:
        x1, y1, x2, y2 = d.box
        assert 0 <= x1 <= x2 <= 400 and 0 <= y1 <= y2 <= 240  # source-image pixels
        assert d.label in manifest.labels
    assert manifest.params["head"] == "centernet" and 0.0 < manifest.thresholds["score"] < 1.0
    assert {m.name for m in manifest.metrics} >= {"map50", "map50_95"}
    assert set(det.timings) == {"preprocess_ms", "inference_ms", "postprocess_ms"}


def test_video_benchmark_times_stages_and_writes_annotations(detect_run, detect_data, tmp_path):
    from edgeward.tasks.detect.bench import bench_video

    result = bench_video(detect_run / "artifacts" / "model.onnx", detect_data / "video.mp4", detect_data / "video.csv",
                         tmp_path / "annotated")
    assert result["frames"] == 25 and result["fps"] > 0
    assert result["total_ms"] >= result["inference_ms"] > 0 and result["postprocess_ms"] > 0
    assert 0.0 <= result["video_map50"] <= 1.0
    for name in ("detections.mp4", "detections.gif", *result["annotated"]["frames"]):
        assert (tmp_path / "annotated" / name).stat().st_size > 0


def test_flat_yolo_folder_and_coco_json_split_80_10_10(tmp_path, detect_data):
    from edgeward.train.detect.training import dataset_splits

    flat = tmp_path / "flat"
    (flat / "images").mkdir(parents=True)
    (flat / "labels").mkdir()
    for image in sorted((detect_data / "images" / "train").glob("*.jpg"))[:20]:
        (flat / "images" / image.name).write_bytes(image.read_bytes())
        label = detect_data / "labels" / "train" / image.with_suffix(".txt").name
        (flat / "labels" / label.name).write_text(label.read_text())
    (flat / "data.yaml").write_text((detect_data / "data.yaml").read_text())
    names, parts = dataset_splits(flat, None, 0)
    sizes = {k: len(v[1]) for k, v in parts.items()}
    assert sizes == {"train": 16, "val": 2, "test": 2} and len(names) == 10
    assert not set(parts["train"][1]) & set(parts["test"][1])
    coco = {"images": [{"id": 1, "file_name": "a.jpg", "width": 320, "height": 320}],
            "annotations": [], "categories": [{"id": 1, "name": "digit"}]}
    (tmp_path / "c.json").write_text(json.dumps(coco))
    assert main(["train", "detect", "--data", str(tmp_path / "c.json"), "--out", str(tmp_path / "r")]) == 2  # no --images


def test_compress_refuses_detection_runs_clearly(detect_run, capsys):
    assert main(["compress", str(detect_run), "--qat"]) == 2
    assert "pruning and quantization-aware training of detection models are not supported yet" in capsys.readouterr().err


def test_detector_takes_the_models_threshold_unless_told(detect_run):
    from edgeward.runtime.tasks.detect import Detector, DetectorOptions

    path = detect_run / "artifacts" / "model.onnx"
    chosen = RunDir(detect_run).record().thresholds["score"]  # best F1 on validation images
    with Detector.from_file(path) as det:
        assert det.options.score_threshold == pytest.approx(chosen)  # carried in the manifest
    with Detector.from_file(path, options=DetectorOptions(score_threshold=0.6)) as det:
        assert det.options.score_threshold == 0.6


def test_bench_targets_and_report(detect_run):
    from edgeward.app.report import write_report
    from edgeward.export.bench import BenchOptions, bench_run, markdown

    result = bench_run(detect_run, BenchOptions(single_rows=40, batch_repeats=2, load_repeats=2, vs_keras=False))
    assert [v["artifact"] for v in result.payload["video"]] == ["model.onnx", "model-int8.onnx", "model-int8.tflite"]
    targets = {t["target"]: t for t in result.targets}
    assert targets["detector parameters"]["met"] is True
    assert "mAP@0.5 on held-out images (fp32 ONNX)" in targets and "int8 mAP@0.5 drop (worst)" in targets
    assert any(t.startswith("end to end, 1 thread") for t in targets)
    assert "Video, end to end on 1 thread" in markdown(result)
    html = write_report(detect_run).read_text()
    assert "Object detection" in html and "data:image/gif;base64," in html and "data:image/png;base64," in html


def test_dataset_and_video_errors_name_the_file(tmp_path, detect_data):
    from edgeward.core.errors import InputError
    from edgeward.runtime.io.video import read_frames
    from edgeward.train.detect.training import dataset_splits, load_split

    no_val = tmp_path / "no_val"
    for kind in ("images", "labels"):
        (no_val / kind / "train").mkdir(parents=True)
    (no_val / "images" / "train" / "a.jpg").write_bytes((detect_data / "images" / "train" / "00000.jpg").read_bytes())
    (no_val / "labels" / "train" / "a.txt").write_text((detect_data / "labels" / "train" / "00000.txt").read_text())
    (no_val / "data.yaml").write_text((detect_data / "data.yaml").read_text())
    with pytest.raises(InputError, match="images/val"):
        dataset_splits(no_val, None, 0)
    broken = tmp_path / "broken"
    for split in ("train", "val"):
        (broken / "images" / split).mkdir(parents=True)
        (broken / "labels" / split).mkdir(parents=True)
        (broken / "images" / split / "a.jpg").write_bytes(b"not a jpeg")
        (broken / "labels" / split / "a.txt").write_text("1 0.5 0.5 0.2 0.2\n")
    (broken / "data.yaml").write_text((detect_data / "data.yaml").read_text())
    _, parts = dataset_splits(broken, None, 0)
    with pytest.raises(InputError, match="a.jpg: not a readable image"):
        load_split(*parts["train"], 160)
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(InputError, match="empty.mp4: no frames"):
        read_frames(tmp_path / "empty.mp4")


def test_detector_refuses_an_unknown_head(detect_run):
    from dataclasses import replace

    from edgeward.core.errors import ManifestError
    from edgeward.runtime import Model
    from edgeward.runtime.tasks.detect import Detector

    path = detect_run / "artifacts" / "model.onnx"
    with Model(path) as m:
        manifest = replace(m.manifest, params={**m.manifest.params, "head": "ssd"})
    with pytest.raises(ManifestError, match="params.head.*'ssd'"):
        Detector(Model(path, manifest=manifest))
