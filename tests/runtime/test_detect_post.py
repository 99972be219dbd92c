"""Detection post-processing and metrics: NMS cases, letterbox geometry, the YOLOv5/v8 decoders, and our
mAP against pycocotools on the same predictions."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from edgeward.runtime.tasks.detect_post import (
    PAD_VALUE,
    Letterbox,
    decode_centernet,
    decode_yolo,
    iou_matrix,
    letterbox_image,
    letterbox_input,
    nms,
    to_input,
)
from edgeward.train.detect.metrics import Detections, average_precision


def test_iou():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 0, 0]])
    np.testing.assert_allclose(iou_matrix(a, b)[0], [1.0, 50 / 150, 0.0, 0.0])


def test_nms_cases():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10]], dtype=float)
    scores = np.array([0.9, 0.8, 0.7, 0.95])
    assert nms(boxes, scores, 0.5).tolist() == [3, 2]  # duplicates of the best box go
    assert nms(boxes, scores, 0.99).tolist() == [3, 1, 2]  # a high threshold keeps near-duplicates, not copies
    assert nms(boxes, scores, 0.5, classes=np.array([0, 1, 0, 0])).tolist() == [3, 1, 2]  # other classes stay
    assert nms(boxes, scores, 0.5, max_detections=1).tolist() == [3]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []
    tie = nms(np.array([[0, 0, 1, 1], [0, 0, 1, 1]]), np.array([0.5, 0.5]), 0.5)
    assert tie.tolist() == [0]  # equal scores: the first wins, deterministically


def test_letterbox_round_trip():
    lb = Letterbox.fit(640, 480, 320)
    assert lb.scale == 0.5 and (lb.pad_x, lb.pad_y) == (0.0, 40.0)
    boxes = np.array([[100, 50, 300, 200], [0, 0, 640, 480]], dtype=float)
    np.testing.assert_allclose(lb.to_source(lb.to_input(boxes)), boxes)
    np.testing.assert_allclose(lb.to_source(np.array([[-10, 0, 400, 400]])), [[0, 0, 640, 480]])  # clipped


def test_yolov8_and_yolov5_layouts_decode_to_the_same_boxes():
    n, c = 50, 3
    rng = np.random.default_rng(0)
    cxcywh = np.c_[rng.uniform(40, 280, (n, 2)), rng.uniform(10, 40, (n, 2))]
    cls = rng.uniform(0, 0.2, (n, c))
    cls[0, 1], cls[1, 2] = 0.9, 0.8  # two confident boxes
    v8 = np.concatenate([cxcywh, cls], axis=1).T[None]  # (1, 4 + C, N)
    boxes, scores, classes = decode_yolo(v8, 0.5, 0.45, 100)
    assert classes.tolist() == [1, 2] and np.allclose(scores, [0.9, 0.8])
    np.testing.assert_allclose(boxes[0], [cxcywh[0, 0] - cxcywh[0, 2] / 2, cxcywh[0, 1] - cxcywh[0, 3] / 2,
                                          cxcywh[0, 0] + cxcywh[0, 2] / 2, cxcywh[0, 1] + cxcywh[0, 3] / 2], rtol=1e-5)
    v5 = np.concatenate([cxcywh, np.ones((n, 1)), cls], axis=1)[None]  # (1, N, 5 + C), objectness 1
    b5, s5, c5 = decode_yolo(v5, 0.5, 0.45, 100)
    np.testing.assert_allclose(b5, boxes, rtol=1e-5)
    np.testing.assert_allclose(s5, scores, rtol=1e-6)
    assert c5.tolist() == classes.tolist()


def _random_scene(rng, n_images=40, n_classes=4):
    truth, predicted = [], []
    for _ in range(n_images):
        k = rng.integers(0, 6)
        xy = rng.uniform(0, 200, (k, 2))
        wh = rng.uniform(10, 80, (k, 2))
        gt = np.c_[xy, xy + wh]
        gc = rng.integers(0, n_classes, k)
        # predictions: jittered copies of most boxes (some with the wrong class), plus clutter
        keep = rng.random(k) < 0.85
        jitter = rng.normal(0, 6, (keep.sum(), 4))
        pb = gt[keep] + jitter
        pb[:, 2:] = np.maximum(pb[:, 2:], pb[:, :2] + 1.0)  # detectors give positive sizes
        pc = np.where(rng.random(keep.sum()) < 0.9, gc[keep], rng.integers(0, n_classes, keep.sum()))
        m = rng.integers(0, 4)
        cxy = rng.uniform(0, 200, (m, 2))
        clutter = np.c_[cxy, cxy + rng.uniform(10, 80, (m, 2))]
        boxes = np.r_[pb, clutter]
        classes = np.r_[pc, rng.integers(0, n_classes, m)]
        scores = np.r_[rng.uniform(0.4, 1.0, keep.sum()), rng.uniform(0.0, 0.6, m)]
        truth.append(Detections(gt, gc))
        predicted.append(Detections(boxes, classes, scores))
    return truth, predicted


@pytest.mark.parametrize("seed", range(6))
def test_map_agrees_with_pycocotools(seed):
    pycocotools = pytest.importorskip("pycocotools.coco", reason="pycocotools is not installed (dev extra)")
    from pycocotools.cocoeval import COCOeval

    truth, predicted = _random_scene(np.random.default_rng(seed))
    ours = average_precision(truth, predicted)

    images, annotations, results = [], [], []
    for i, (t, p) in enumerate(zip(truth, predicted)):
        images.append({"id": i, "width": 300, "height": 300})
        for b, c in zip(t.boxes, t.classes):
            w, h = b[2] - b[0], b[3] - b[1]
            annotations.append({"id": len(annotations) + 1, "image_id": i, "category_id": int(c), "iscrowd": 0,
                                "bbox": [float(b[0]), float(b[1]), float(w), float(h)], "area": float(w * h)})
        for b, c, s in zip(p.boxes, p.classes, p.scores):
            results.append({"image_id": i, "category_id": int(c), "score": float(s),
                            "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]})
    gt = pycocotools.COCO()
    gt.dataset = {"images": images, "annotations": annotations, "categories": [{"id": c} for c in range(4)]}
    gt.createIndex()
    dt = gt.loadRes(results)
    ev = COCOeval(gt, dt, "bbox")
    with contextlib.redirect_stdout(io.StringIO()):  # COCOeval prints its table
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert abs(ours["map50_95"] - ev.stats[0]) < 1e-3 and abs(ours["map50"] - ev.stats[1]) < 1e-3


def _centernet_output(objects, grid=40, n_classes=3, size=320):
    """A head output with one peak per object: (class, row, col, score, (l, t, r, b) in pixels)."""
    out = np.zeros((1, grid, grid, n_classes + 4), np.float32)
    for c, r, q, s, ltrb in objects:
        out[0, r, q, c] = s
        out[0, r, q, n_classes:] = np.asarray(ltrb) / size
    return out


def test_decode_centernet_peaks_and_boxes():
    out = _centernet_output([(1, 10, 20, 0.9, (8, 16, 8, 16)), (2, 30, 5, 0.6, (4, 4, 12, 12))])
    out[0, 10, 21, 1] = 0.8  # a neighbour of the first peak, lower: not a peak of its own
    out[0, 0, 0, 0] = 0.2  # below the threshold
    boxes, scores, classes = decode_centernet(out, 320, 0.3, 0.5, 100)
    assert classes.tolist() == [1, 2] and np.allclose(scores, [0.9, 0.6])
    # cell centres: (20.5 * 8, 10.5 * 8) = (164, 84) and (44, 244)
    np.testing.assert_allclose(boxes, [[156, 68, 172, 100], [40, 240, 56, 256]], atol=1e-4)
    assert decode_centernet(out, 320, 0.3, 0.5, 1)[2].tolist() == [1]  # max detections
    assert len(decode_centernet(np.zeros((40, 40, 7), np.float32), 320, 0.3, 0.5, 100)[0]) == 0


def test_decode_centernet_nms_removes_duplicate_peaks_of_one_class_only():
    # the box (64, 64, 112, 112) seen from the cell centres (84, 84) and, two cells right, (100, 84)
    here, there = (20, 20, 28, 28), (36, 20, 12, 28)
    out = _centernet_output([(0, 10, 10, 0.9, here), (0, 10, 12, 0.7, there), (1, 10, 12, 0.5, there)])
    boxes, scores, classes = decode_centernet(out, 320, 0.3, 0.5, 100)
    # the class-0 peak two cells away describes the same box: NMS drops it; the class-1 one stays
    assert classes.tolist() == [0, 1] and np.allclose(scores, [0.9, 0.5])


def test_letterbox_image_matches_geometry():
    image = np.zeros((100, 200, 3), np.uint8)
    image[:, :, 2] = 255  # red in BGR
    canvas, lb = letterbox_image(image, 320)
    assert canvas.shape == (320, 320, 3) and canvas.dtype == np.uint8
    assert (lb.scale, lb.pad_x, lb.pad_y) == (1.6, 0.0, 80.0)
    assert canvas[160, 160].tolist() == [255, 0, 0]  # RGB now
    assert canvas[10, 10].tolist() == [PAD_VALUE] * 3 and canvas[310, 10].tolist() == [PAD_VALUE] * 3
    x = to_input(canvas)
    assert x.dtype == np.float32 and x.max() == 1.0


def test_average_precision_class_with_truth_but_no_detection_is_zero():
    truth = [Detections(np.array([[0, 0, 10, 10], [20, 20, 30, 30]]), np.array([0, 1]))]
    predicted = [Detections(np.array([[0, 0, 10, 10]]), np.array([0]), np.array([0.9]))]
    result = average_precision(truth, predicted)
    assert result["per_class"][1] == (0.0, 0.0) and result["map50"] == pytest.approx(0.5)


def test_f1_threshold_picks_the_score_that_separates_right_from_wrong():
    from edgeward.train.detect.metrics import f1_at, f1_threshold

    truth = [Detections(np.array([[0, 0, 10, 10], [20, 20, 30, 30]]), np.array([0, 1]))]
    predicted = [Detections(np.array([[0, 0, 10, 10], [20, 20, 30, 30], [50, 50, 60, 60], [0, 0, 10, 10]]),
                            np.array([0, 1, 0, 0]), np.array([0.9, 0.8, 0.4, 0.3]))]
    best = f1_threshold(truth, predicted)
    assert best == {"threshold": 0.8, "precision": 1.0, "recall": 1.0, "f1": 1.0}
    low = f1_at(truth, predicted, 0.3)  # a stray box and a duplicate join in
    assert low["precision"] == 0.5 and low["recall"] == 1.0


def test_iou_matrix_gives_the_values_of_the_pairwise_formula():
    """Computed a coordinate at a time, the IoU is bit for bit what the (N, M, 2) form gives (NMS keeps the same
    boxes on every machine only if nothing about its arithmetic changes)."""
    rng = np.random.default_rng(3)
    xy = rng.uniform(-10, 300, (120, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(-5, 80, (120, 2))], axis=1)  # some of zero or negative size
    a, b = boxes[:70], boxes[70:]
    lt, rb = np.maximum(a[:, None, :2], b[None, :, :2]), np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a, area_b = (np.prod(np.clip(x[:, 2:] - x[:, :2], 0, None), axis=1) for x in (a, b))
    union = area_a[:, None] + area_b[None, :] - inter
    assert np.array_equal(iou_matrix(a, b), np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0))


def _reference_nms(boxes, scores, iou_threshold, classes=None, max_detections=None):
    """Greedy NMS one box at a time, as it was written first: the vectorised one must keep the very same boxes."""
    boxes, scores = np.asarray(boxes, dtype=np.float64).reshape(-1, 4), np.asarray(scores, dtype=np.float64)
    if classes is not None:
        span = boxes.max(initial=0.0) - min(boxes.min(initial=0.0), 0.0) + 1.0
        boxes = boxes + (np.asarray(classes, dtype=np.float64) * span)[:, None]
    order, keep = np.argsort(-scores, kind="stable"), []
    while order.size:
        keep.append(order[0])
        if max_detections is not None and len(keep) >= max_detections:
            break
        order = order[1:][iou_matrix(boxes[order[0]:order[0] + 1], boxes[order[1:]])[0] <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


# 700 boxes of no class: more pairs than NMS_PAIRS_MAX; 1,500: above NMS_MATRIX_MAX; both box by box
@pytest.mark.parametrize("n", [0, 1, 7, 300, 700, 1500])
def test_nms_keeps_what_greedy_nms_keeps(n):
    rng = np.random.default_rng(n)
    xy = rng.uniform(0, 200, (n, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 60, (n, 2))], axis=1)
    scores = rng.choice([0.3, 0.5, 0.7, 0.9], n) if n > 1 else rng.uniform(0, 1, n)  # ties: the order must hold
    classes = rng.integers(0, 3, n)
    for iou, cls, most in ((0.45, classes, None), (0.3, None, 5), (0.7, classes, 10 ** 9)):
        assert nms(boxes, scores, iou, cls, most).tolist() == _reference_nms(boxes, scores, iou, cls, most).tolist()


def test_a_yolov8_head_decodes_as_the_whole_table_would():
    """Only the candidates whose best class passes are looked at closely: the same boxes, scores and classes, in the
    same order, as decoding every one of the 8,400 candidates."""
    rng = np.random.default_rng(0)
    out = np.zeros((1, 84, 8400), np.float32)
    out[0, :2], out[0, 2:4] = rng.uniform(0, 640, (2, 8400)), rng.uniform(5, 100, (2, 8400))
    out[0, 4:] = rng.uniform(0, 0.3, (80, 8400))
    out[0, 4 + rng.integers(0, 80, 200), rng.choice(8400, 200, replace=False)] = 0.6  # ties across classes too
    rows = out[0].T
    classes = rows[:, 4:].argmax(axis=1)
    scores = rows[:, 4:][np.arange(8400), classes]
    mask = scores >= 0.25
    cx, cy, w, h = (rows[mask, i] for i in range(4))
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    keep = _reference_nms(boxes, scores[mask], 0.45, classes[mask], 100)
    got = decode_yolo(out, 0.25, 0.45, 100)
    assert np.array_equal(got[0], boxes[keep]) and np.array_equal(got[1], scores[mask][keep])
    assert np.array_equal(got[2], classes[mask][keep])


@pytest.mark.parametrize("shape", [(480, 640), (640, 480), (320, 320), (2, 700), (57, 33)])
def test_the_model_input_in_one_pass_equals_the_letterbox_then_the_scaling(shape):
    """``letterbox_input`` (the runtime's) gives the values training's ``to_input(letterbox_image(...))`` gives,
    bit for bit, in either layout and colour order, also into a buffer a differently shaped frame used before."""
    rng = np.random.default_rng(shape[0])
    image = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    used = letterbox_input(rng.integers(0, 256, (300, 100, 3), dtype=np.uint8), 320)[0]  # other bands, other pixels
    for bgr in (True, False):
        canvas, lb = letterbox_image(image, 320, bgr)
        expected = to_input(canvas)
        for nchw, out in ((True, None), (True, used), (False, None)):
            x, got = letterbox_input(image, 320, bgr, nchw, out)
            assert x.dtype == np.float32 and x.flags.c_contiguous and got == lb
            assert np.array_equal(x[0].transpose(1, 2, 0) if nchw else x[0], expected)
