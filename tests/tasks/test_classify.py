"""Image classification end to end on tiny generated sets: the generators, the class-folder loader, training,
compression and export through the shared engine, the runtime Classifier, `edgeward run classify` on images,
folders and videos, the benchmark and the report. The models are far too short-trained to classify; these
tests check the plumbing, the preprocessing and the errors."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from edgeward.app.cli import main
from edgeward.core.errors import InputError
from edgeward.core.rundir import RunDir
from edgeward.runtime.tasks.classify import Classifier, ClassifierOptions, ImagePreprocess
from edgeward.train.classify.config import ClassifyDataConfig, ClassifyTrainConfig, ImageKind
from edgeward.train.classify.data import OBJECTS, draw_object, generate_images, load_class_folders


@pytest.fixture(scope="module")
def objects_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("classify") / "data"
    assert main(["data", "classify", str(out), "--per-class", "12", "--holdout", "4", "--video-seconds", "2"]) == 0
    return out


@pytest.fixture(scope="module")
def classify_run(objects_data, tmp_path_factory):
    from edgeward.train.classify.training import train_classify

    run = tmp_path_factory.mktemp("classify") / "run"
    train_classify(objects_data, run, ClassifyTrainConfig(epochs=2, filters=8, batch_size=32))
    assert main(["export", str(run), "--format", "all", "--precision", "fp32,int8", "--max-drop", "100"]) == 0
    return run


def test_objects_are_class_folders_and_colour_says_nothing_of_the_class(objects_data):
    for split, n in (("train", 12), ("val", 4), ("test", 4)):
        assert sorted(p.name for p in (objects_data / split).iterdir()) == sorted(OBJECTS)
        assert all(len(list((objects_data / split / c).glob("*.png"))) == n for c in OBJECTS)
    image = cv2.imread(str(objects_data / "train" / "star" / "00000.png"))
    assert image.shape == (32, 32, 3)
    assert (objects_data / "video.csv").read_text().splitlines()[0] == "frame,label"
    # a nearest-centroid classifier on each image's mean colour does no better than chance
    rng = np.random.default_rng(5)
    colour = {k: np.array([draw_object(name, rng).reshape(-1, 3).mean(0) for _ in range(60)]) for k, name in enumerate(OBJECTS)}
    centroids = np.array([c[:30].mean(0) for c in colour.values()])
    right = [np.argmin(((c[30:, None] - centroids) ** 2).sum(-1), axis=1) == k for k, c in colour.items()]
    assert np.mean(right) < 0.2  # chance is 0.1


def test_nodules_are_two_classes_of_128_pixel_crops(tmp_path):
    summary = generate_images(tmp_path, ClassifyDataConfig(kind=ImageKind.NODULES, per_class=2, holdout=1, video_seconds=1))
    assert summary["classes"] == ["clear", "nodule"] and summary["size"] == 128
    assert cv2.imread(str(tmp_path / "train" / "nodule" / "00000.png")).shape == (128, 128, 3)
    assert summary["video"]["frames"] == 10


def test_the_loader_takes_any_class_folder_tree_and_reports_what_it_cannot_read(tmp_path):
    rng = np.random.default_rng(0)
    for k, name in enumerate(("cat", "dog")):
        folder = tmp_path / name
        folder.mkdir()
        for i in range(10):
            image = rng.integers(0, 256, (40 + 8 * i, 48, 3), dtype=np.uint8)
            if i % 3 == 0:
                cv2.imwrite(str(folder / f"{i}.png"), image[:, :, 0])  # greyscale
            elif i % 3 == 1:
                cv2.imwrite(str(folder / f"{i}.png"), np.dstack([image, np.full(image.shape[:2], 128, np.uint8)]))  # RGBA
            else:
                cv2.imwrite(str(folder / f"{i}.{'jpg' if k else 'bmp'}"), image)
        (folder / "notes.txt").write_text("not an image")
    (tmp_path / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not the rest of a png")
    data = load_class_folders(tmp_path, size=32, val=0.2, test=0.2, seed=1)
    assert data.names == ("cat", "dog") and data.size == 32
    sizes = {k: len(v[1]) for k, v in data.splits.items()}  # 2 of each class's 10 or 11 files to val and to test
    assert sum(sizes.values()) == 20 and sizes["val"] + sizes["test"] in (7, 8)  # 20 readable of 21
    assert all(v[0].shape[1:] == (32, 32, 3) and v[0].dtype == np.uint8 for v in data.splits.values())
    assert len(data.skipped) == 1 and data.skipped[0][0].endswith("broken.png") and data.skipped[0][1]
    (tmp_path / "bird").mkdir()
    with pytest.raises(InputError, match=r"bird: an empty class folder; expected images \(.jpg, .jpeg, .png, .bmp\)"):
        load_class_folders(tmp_path)
    with pytest.raises(InputError, match="expected a folder of class folders"):
        load_class_folders(tmp_path / "nope")


def test_training_record_export_and_manifest(classify_run):
    record = RunDir(classify_run).record()
    assert record.task == "classify" and record.labels == tuple(sorted(OBJECTS)) and record.thresholds == {}  # folder order
    assert set(record.metrics["model"]) == {"top1", "top5", "val_top1"}
    assert len(record.payload.confusion) == 10 and sum(map(sum, record.payload.confusion)) == 40
    assert record.payload.preprocess == {"size": 32, "mode": "scale", "mean": [0.0] * 3, "std": [1.0] * 3}
    validation = {a["artifact"]: a for a in json.loads((classify_run / "validation.json").read_text())["artifacts"]}
    assert set(validation) == {"model.onnx", "model-int8.onnx", "model.tflite", "model-int8.tflite"}
    assert validation["model.onnx"]["max_abs_diff"] <= 1e-5 and validation["model.onnx"]["metric_name"] == "top1"
    with Classifier.from_file(classify_run / "artifacts" / "model-int8.onnx") as clf:
        assert {m.name for m in clf.model.manifest.metrics} >= {"top1", "top5", "decision_agreement"}


def test_the_classifier_matches_keras_on_any_image_layout(classify_run, objects_data):
    from edgeward.core.model_files import load_model

    rgb = cv2.imread(str(objects_data / "test" / "ring" / "00001.png"))[:, :, ::-1]
    keras_model, _ = load_model(classify_run / "model.keras")
    want = keras_model.predict(ImagePreprocess(32).scale(rgb)[None], verbose=0)[0]
    with Classifier.from_file(classify_run / "artifacts" / "model.onnx", options=ClassifierOptions(top_k=3)) as clf:
        np.testing.assert_allclose(clf.probabilities(rgb, bgr=False)[0], want, atol=1e-5)
        found = clf.classify(rgb[:, :, ::-1])  # OpenCV's BGR, the default
        assert [f.label for f in found] == [clf.labels[i] for i in np.argsort(-want)[:3]]
        assert found == clf.classify(rgb, bgr=False) and len(clf.classify(rgb, top_k=10, bgr=False)) == 10
        assert set(clf.timings) == {"preprocess_ms", "inference_ms", "postprocess_ms"}
        big = cv2.resize(rgb, (200, 120))  # any size: resized as training resized
        assert len(clf.classify(big, bgr=False)) == 3
        assert len(clf.classify(rgb[:, :, 0])) == 3 and len(clf.classify(np.dstack([rgb, rgb[:, :, :1]]))) == 3
        with pytest.raises(InputError, match="image: expected uint8 pixels, got float32"):
            clf.classify(rgb.astype(np.float32))
    with Classifier.from_file(classify_run / "artifacts" / "model-int8.tflite") as clf:
        assert clf.probabilities(rgb, bgr=False).shape == (1, 10)


def test_cli_runs_on_a_folder_a_video_and_one_image(classify_run, objects_data, tmp_path, capsys):
    model = str(classify_run / "artifacts" / "model.onnx")
    folder = tmp_path / "images"
    folder.mkdir()
    for i, name in enumerate(("a.png", "b.png", "c.png")):
        (folder / name).write_bytes((objects_data / "test" / OBJECTS[i] / "00000.png").read_bytes())
    (folder / "bad.png").write_bytes(b"not a png")
    assert main(["run", "classify", model, "--source", str(folder), "--json", "--top-k", "2"]) == 0
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert [line["image"] for line in lines] == ["a.png", "b.png", "c.png"] and all(len(line["top"]) == 2 for line in lines)
    assert "classified 3 image(s)" in captured.err and "skipped 1 unreadable image(s): " in captured.err and "bad.png" in captured.err
    assert main(["run", "classify", model, "--source", str(objects_data / "video.mp4")]) == 0
    text = capsys.readouterr().out.splitlines()
    assert len(text) == 20 and text[0].startswith("frame 0: ")
    assert main(["run", "classify", model, "--source", str(folder / "a.png")]) == 0
    assert capsys.readouterr().out.startswith("a.png: ")


@pytest.mark.full  # pruning and QAT of a classifier: `make test-full` (test_compress_export keeps compression in `make test`)
def test_compression_and_export_of_the_compressed_model(classify_run, capsys):
    assert main(["compress", str(classify_run), "--sparsity", "0.5", "--qat", "--prune-epochs", "1", "--qat-epochs", "1"]) == 0
    assert "pruned-qat top1" in capsys.readouterr().out
    assert main(["export", str(classify_run), "--source", "pruned-qat", "--format", "all", "--precision", "int8",
                 "--max-drop", "100"]) == 0
    assert (classify_run / "artifacts" / "model-pruned-qat-int8.tflite").stat().st_size > 0


def test_a_classifier_of_yours_is_adopted_with_its_class_folders(classify_run, objects_data, tmp_path, capsys):
    """The run's own Keras model, brought as a user would bring theirs: it scores on the same held-out images what
    it scored when trained here, and its artifact runs in `edgeward run classify`."""
    run = tmp_path / "adopted"
    assert main(["export", "--model", str(classify_run / "model.keras"), "--task", "classify", "--calibration",
                 str(objects_data), "--out", str(run), "--format", "onnx", "--precision", "fp32"]) == 0, capsys.readouterr().err
    trained, adopted = RunDir(classify_run).record(), RunDir(run).record()
    assert adopted.task == "classify" and adopted.labels == trained.labels and adopted.payload.arch == "adopted"
    assert adopted.metrics == trained.metrics and adopted.payload.confusion == trained.payload.confusion
    assert adopted.payload.preprocess == trained.payload.preprocess
    assert "adopted a classifier of 10 classes; held-out top-1" in capsys.readouterr().out
    assert main(["run", "classify", str(run / "artifacts" / "model.onnx"), "--source", str(objects_data / "test" / "circle"), "--json"]) == 0
    assert main(["export", "--model", str(classify_run / "model.keras"), "--task", "classify", "--calibration",
                 str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")]) == 2
    assert "a classifier is adopted with its class folders (one sub-folder per class)" in capsys.readouterr().err


def test_two_classes_get_a_threshold_auprc_and_a_positive_class(tmp_path):
    from edgeward.train.classify.training import train_classify

    generate_images(tmp_path / "data", ClassifyDataConfig(kind=ImageKind.NODULES, per_class=8, holdout=4, video_seconds=0))
    record = train_classify(tmp_path / "data", tmp_path / "run", ClassifyTrainConfig(epochs=1, filters=4, size=64))
    assert record.payload.positive == "nodule" and 0.0 <= record.thresholds["decision"] <= 1.0
    assert {"auprc", "roc_auc", "precision", "recall"} <= set(record.metrics["model"])
    assert main(["export", str(tmp_path / "run"), "--max-drop", "100"]) == 0
    with Classifier.from_file(tmp_path / "run" / "artifacts" / "model.onnx") as clf:
        assert clf.positive == "nodule" and clf.threshold == pytest.approx(record.thresholds["decision"])
        assert clf.preprocess.size == 64
        probs = np.array([[0.9, 0.1], [0.2, 0.8]], np.float32)
        assert clf.decide(probs).tolist() == [int(p >= clf.threshold) for p in (0.1, 0.8)]


def test_bench_and_report(classify_run):
    from edgeward.app.report import write_report
    from edgeward.export.bench import BenchOptions, bench_run, markdown

    r = bench_run(classify_run, BenchOptions(single_rows=20, batch_repeats=1, load_repeats=1))
    runs = {(e["artifact"], e["source"]): e for e in r.payload["end_to_end"]}
    assert set(runs) == {(a, s) for a in ("model.onnx", "model-int8.onnx", "model-int8.tflite") for s in ("folder", "video")}
    assert runs[("model.onnx", "folder")]["images"] == 40 and runs[("model.onnx", "video")]["images"] == 20
    assert all(e["images_per_s"] > 0 and 0 <= e["top1"] <= 1 for e in runs.values())
    targets = {t["target"]: t for t in r.targets}
    assert targets["classifier parameters"]["met"] is True and "top-1 on held-out images (fp32 ONNX)" in targets
    assert "End to end on 1 thread" in markdown(r)
    html = write_report(classify_run).read_text()
    assert "<h2>Image classification</h2>" in html and "Held-out images: top-1" in html


@pytest.mark.parametrize("arch, least, most", [("mobilenet", 300_000, 600_000), ("resnet50", 23_000_000, 24_000_000)])
def test_the_keras_application_networks_build_from_scratch(arch, least, most):
    from edgeward.core.keras_env import tf_keras
    from edgeward.train.classify.training import build_classifier

    config = ClassifyTrainConfig(arch=arch)
    model = build_classifier(tf_keras(), config.arch, 32, 10, config)
    assert least <= model.count_params() <= most and model.output_shape == (None, 10)
    assert model.inputs[0].name.startswith("image")


def test_configuration_errors_are_one_line(objects_data, tmp_path, capsys):
    assert main(["train", "classify", "--data", str(objects_data), "--out", str(tmp_path / "r"), "--size", "16"]) == 2
    assert capsys.readouterr().err.strip() == "error: size (--size): expected a whole number >= 32, got 16"
    with pytest.raises(SystemExit):
        main(["train", "classify", "--data", str(objects_data), "--out", str(tmp_path / "r"), "--arch", "vgg"])
    assert "invalid choice: 'vgg' (choose from 'small-cnn', 'mobilenet', 'resnet50', 'article-cnn', 'nodule-cnn')" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_class_folder_errors_name_the_folder(tmp_path):
    from edgeward.train.classify.data import class_folder_files

    for name in ("a", "b"):
        (tmp_path / "flat" / name).mkdir(parents=True)
        for i in range(2):
            cv2.imwrite(str(tmp_path / "flat" / name / f"{i}.png"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(InputError, match=r"flat/a: 2 image\(s\); expected at least 3 to split"):
        class_folder_files(tmp_path / "flat", 0.1, 0.1, 0)
    (tmp_path / "one" / "only").mkdir(parents=True)
    with pytest.raises(InputError, match=r"expected at least 2 class folders, got 1 \(\['only'\]\)"):
        class_folder_files(tmp_path / "one", 0.1, 0.1, 0)
    for split, classes in (("train", ("a", "b")), ("val", ("a", "c"))):
        for name in classes:
            (tmp_path / "split" / split / name).mkdir(parents=True)
            cv2.imwrite(str(tmp_path / "split" / split / name / "0.png"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(InputError, match=r"split/val: class folder\(s\) \['c'\] are not among the training classes \['a', 'b'\]"):
        class_folder_files(tmp_path / "split", 0.1, 0.1, 0)
    (tmp_path / "split" / "val" / "c" / "0.png").unlink()
    (tmp_path / "split" / "val" / "c").rmdir()
    (tmp_path / "split" / "val" / "a" / "0.png").write_bytes(b"broken")
    with pytest.raises(InputError, match=r"no readable image in the val split \(1 unreadable\)"):
        load_class_folders(tmp_path / "split")


def test_the_classifier_refuses_other_tasks_and_bad_preprocessing(fraud_model):
    from edgeward.core.errors import ManifestError

    with pytest.raises(InputError, match="expected a classify model, got task 'fraud'"):
        Classifier.from_file(fraud_model)
    with pytest.raises(ManifestError, match="manifest field 'params.preprocess.size' is missing"):
        ImagePreprocess.from_dict({"mode": "scale"}, "m.onnx")
    with pytest.raises(ManifestError, match="preprocess mode: expected one of scale, meanstd, caffe, got 'zscore'"):
        ImagePreprocess.from_dict({"size": 32, "mode": "zscore"})
    from edgeward.runtime.tasks.classify import as_rgb

    with pytest.raises(InputError, match=r"image: expected \(H, W\), \(H, W, 3\) or \(H, W, 4\) pixels, got shape \(4, 4, 2\)"):
        as_rgb(np.zeros((4, 4, 2), np.uint8), bgr=True)
