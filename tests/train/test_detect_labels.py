"""YOLO and COCO detection labels: a good set loads; each kind of bad label names file, line and field."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgeward.core.errors import DataError, InputError
from edgeward.train.detect.labels import load_coco, load_yolo

pytest.importorskip("yaml", reason="pyyaml comes with the train extra")


def _yolo(tmp_path, labels: dict[str, str], names=("zero", "one", "two")):
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    (tmp_path / "data.yaml").write_text("names: [" + ", ".join(names) + "]\n")
    for stem, text in labels.items():
        (tmp_path / "images" / f"{stem}.png").write_bytes(b"\x89PNG")
        if text is not None:
            (tmp_path / "labels" / f"{stem}.txt").write_text(text)
    return tmp_path


def test_a_good_yolo_set(tmp_path):
    ds = load_yolo(_yolo(tmp_path, {"a": "0 0.5 0.5 0.2 0.3\n2 0.1 0.9 0.05 0.1\n", "b": ""}))
    assert ds.names == ("zero", "one", "two") and len(ds.samples) == 2
    np.testing.assert_allclose(ds.samples[0].boxes, [[0.5, 0.5, 0.2, 0.3], [0.1, 0.9, 0.05, 0.1]])
    assert ds.samples[0].classes.tolist() == [0, 2] and ds.samples[1].boxes.shape == (0, 4)


@pytest.mark.parametrize("text, message", [
    ("0 0.5 0.5 0.2\n", r"b.txt line 1: expected 5 fields 'class cx cy w h', got '0 0.5 0.5 0.2'"),
    ("0 0.5 0.5 0.2 0.2\nx 0.5 0.5 0.2 0.2\n", r"b.txt line 2, field 'class': expected an integer class index, got 'x'"),
    ("1 0.5 abc 0.2 0.2\n", r"b.txt line 1, field 'cy': expected a number, got 'abc'"),
    ("1 1.2 0.5 0.2 0.2\n", r"b.txt line 1, field 'cx': expected a normalised value in \[0, 1\], got '1.2'"),
    ("1 0.5 0.5 0 0.2\n", r"b.txt line 1, field 'w': expected a normalised value in \(0, 1\], got '0'"),
    ("\n\n7 0.5 0.5 0.2 0.2\n", r"b.txt line 3, field 'class': expected a class index from 0 to 2, got 7"),
])
def test_bad_yolo_lines(tmp_path, text, message):
    with pytest.raises(DataError, match=message):
        load_yolo(_yolo(tmp_path, {"a": "", "b": text}))


def test_missing_label_file_and_names(tmp_path):
    with pytest.raises(DataError, match=r"labels/b.txt: expected a label file for b.png \(empty when it shows no object\), got 'none'"):
        load_yolo(_yolo(tmp_path, {"a": "", "b": None}))
    (tmp_path / "data.yaml").write_text("path: .\n")
    with pytest.raises(DataError, match="data.yaml, field 'names': expected a list of class names"):
        load_yolo(tmp_path)
    with pytest.raises(InputError, match="data.yaml: not found"):
        load_yolo(tmp_path / "elsewhere")


def test_coco(tmp_path):
    good = {"images": [{"id": 1, "file_name": "a.png", "width": 200, "height": 100}],
            "categories": [{"id": 7, "name": "seven"}, {"id": 3, "name": "three"}],
            "annotations": [{"image_id": 1, "category_id": 7, "bbox": [10, 20, 50, 40]}]}
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(good))
    ds = load_coco(path, tmp_path)
    assert ds.names == ("three", "seven") and ds.samples[0].classes.tolist() == [1]
    np.testing.assert_allclose(ds.samples[0].boxes, [[35 / 200, 40 / 100, 50 / 200, 40 / 100]])
    bad = dict(good, annotations=[{"image_id": 1, "category_id": 9, "bbox": [10, 20, 50, 40]}])
    path.write_text(json.dumps(bad))
    with pytest.raises(DataError, match=r"field 'annotations\[0\].category_id': expected one of the category ids \[3, 7\], got 9"):
        load_coco(path, tmp_path)
    bad = dict(good, annotations=[{"image_id": 1, "category_id": 7, "bbox": [180, 20, 50, 40]}])
    path.write_text(json.dumps(bad))
    with pytest.raises(DataError, match=r"field 'annotations\[0\].bbox': expected a box inside the 200x100 image"):
        load_coco(path, tmp_path)
    path.write_text("{not json")
    with pytest.raises(DataError, match="ann.json line 1: expected COCO JSON"):
        load_coco(path, tmp_path)


def test_generated_digits_load_as_a_valid_yolo_set(tmp_path, capsys):
    from edgeward.app.cli import main
    from edgeward.train.detect.data import NAMES

    assert main(["data", "detect", str(tmp_path / "digits"), "--images", "12", "--holdout", "6", "--video-seconds", "2"]) == 0
    out = capsys.readouterr().out
    assert "train 12 images" in out and "(50 frames)" in out
    for split, n in (("train", 12), ("val", 6), ("test", 6)):
        ds = load_yolo(tmp_path / "digits", split)
        assert ds.names == NAMES and len(ds.samples) == n
        boxes = np.concatenate([s.boxes for s in ds.samples])
        classes = np.concatenate([s.classes for s in ds.samples])
        assert len(boxes) >= n and ((boxes > 0) & (boxes <= 1)).all() and set(classes) <= set(range(10))
        heights = boxes[:, 3]
        assert 0.05 < heights.min() and heights.max() <= 0.45  # digits of 10-40% of the image height (and tilt)


def test_the_video_of_moving_digits_matches_its_ground_truth(tmp_path):
    cv2 = pytest.importorskip("cv2", reason="opencv (in the base install) is not installed")
    import csv

    from edgeward.train.detect.data import write_video

    info = write_video(tmp_path / "v.mp4", tmp_path / "v.csv", seconds=2, fps=10, size=(240, 160), digits=2)
    rows = list(csv.DictReader((tmp_path / "v.csv").open()))
    assert info["frames"] == 20 and len(rows) == 40
    cap = cv2.VideoCapture(str(tmp_path / "v.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 20 and (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (240, 160)
    cap.release()
    boxes = np.array([[float(r[k]) for k in ("x1", "y1", "x2", "y2")] for r in rows])
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= 240).all() and (boxes[:, 3] <= 160).all()
    first, last = boxes[0::2][0], boxes[0::2][-1]
    assert not np.allclose(first, last)  # the digits move
