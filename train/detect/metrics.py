"""mAP the COCO way (the algorithm of pycocotools' COCOeval for boxes, area "all", 100 detections per
image and class): per class, detections sorted by score are matched greedily to the best unmatched
ground truth at each IoU threshold; precision is made monotone and read at 101 recall points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgeward.runtime.tasks.detect_post import iou_matrix

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_POINTS = np.linspace(0.0, 1.0, 101)


@dataclass(frozen=True)
class Detections:
    """One image: boxes (N, 4) xyxy, classes (N,), and scores (N,) for predictions."""

    boxes: np.ndarray
    classes: np.ndarray
    scores: np.ndarray | None = None


def average_precision(truth: Sequence[Detections], predicted: Sequence[Detections], max_per_image: int = 100) -> dict:
    """{"map50": ..., "map50_95": ..., "per_class": {class: (AP@0.5, AP@0.5:0.95)}} over classes with ground truth."""
    if len(truth) != len(predicted):
        raise ValueError(f"expected one prediction per image: {len(truth)} images, {len(predicted)} predictions")
    classes = sorted({int(c) for t in truth for c in np.asarray(t.classes)})
    per_class = {}
    for c in classes:
        scores, matched, n_truth = [], [], 0  # matched: (detections, thresholds) booleans
        for t, p in zip(truth, predicted):
            gt = np.asarray(t.boxes, dtype=np.float64).reshape(-1, 4)[np.asarray(t.classes) == c]
            sel = np.asarray(p.classes) == c
            db = np.asarray(p.boxes, dtype=np.float64).reshape(-1, 4)[sel]
            ds = np.asarray(p.scores, dtype=np.float64)[sel]
            order = np.argsort(-ds, kind="mergesort")[:max_per_image]
            db, ds = db[order], ds[order]
            n_truth += len(gt)
            hits = np.zeros((len(db), len(IOU_THRESHOLDS)), dtype=bool)
            if len(db) and len(gt):
                ious = iou_matrix(db, gt)
                for k, thr in enumerate(IOU_THRESHOLDS):
                    taken = np.zeros(len(gt), dtype=bool)
                    for d in range(len(db)):
                        best, best_iou = -1, min(thr, 1 - 1e-10)
                        for g in range(len(gt)):
                            if not taken[g] and ious[d, g] >= best_iou:
                                best, best_iou = g, ious[d, g]
                        if best >= 0:
                            taken[best] = True
                            hits[d, k] = True
            scores.append(ds)
            matched.append(hits)
        all_scores = np.concatenate(scores) if scores else np.zeros(0)
        all_hits = np.concatenate(matched) if matched else np.zeros((0, len(IOU_THRESHOLDS)), dtype=bool)
        order = np.argsort(-all_scores, kind="mergesort")
        all_hits = all_hits[order]
        aps = []
        for k in range(len(IOU_THRESHOLDS)):
            tp = np.cumsum(all_hits[:, k])
            fp = np.cumsum(~all_hits[:, k])
            recall = tp / n_truth
            precision = tp / np.maximum(tp + fp, np.spacing(1))
            precision = np.maximum.accumulate(precision[::-1])[::-1] if len(precision) else precision
            idx = np.searchsorted(recall, RECALL_POINTS, side="left")
            if not len(precision):  # ground truth, no detection of this class: AP 0
                aps.append(0.0)
                continue
            q = np.where(idx < len(precision), precision[np.minimum(idx, len(precision) - 1)], 0.0)
            aps.append(float(q.mean()))
        per_class[c] = (aps[0], float(np.mean(aps)))
    if not per_class:
        return {"map50": 0.0, "map50_95": 0.0, "per_class": {}}
    return {"map50": float(np.mean([v[0] for v in per_class.values()])),
            "map50_95": float(np.mean([v[1] for v in per_class.values()])), "per_class": per_class}



def _matches(truth: Sequence[Detections], predicted: Sequence[Detections], iou: float):
    """Every detection's score and whether it matched an unmatched object of its class at IoU >= ``iou``
    (highest scores first, per image), sorted by score; and the number of objects."""
    n_truth = sum(len(np.asarray(t.classes)) for t in truth)
    scores, hits = [], []
    for t, p in zip(truth, predicted):
        gt_boxes, gt_classes = np.asarray(t.boxes, dtype=np.float64).reshape(-1, 4), np.asarray(t.classes)
        order = np.argsort(-np.asarray(p.scores, dtype=np.float64), kind="mergesort")
        boxes = np.asarray(p.boxes, dtype=np.float64).reshape(-1, 4)[order]
        classes, ds = np.asarray(p.classes)[order], np.asarray(p.scores, dtype=np.float64)[order]
        ious = iou_matrix(boxes, gt_boxes) if len(boxes) and len(gt_boxes) else np.zeros((len(boxes), len(gt_boxes)))
        taken = np.zeros(len(gt_boxes), dtype=bool)
        for d in range(len(boxes)):
            candidates = np.where(~taken & (gt_classes == classes[d]) & (ious[d] >= iou))[0]
            if len(candidates):
                taken[candidates[ious[d, candidates].argmax()]] = True
            hits.append(bool(len(candidates)))
            scores.append(ds[d])
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="mergesort")
    return np.asarray(scores, dtype=np.float64)[order], np.asarray(hits, dtype=bool)[order], n_truth


def f1_threshold(truth: Sequence[Detections], predicted: Sequence[Detections], iou: float = 0.5) -> dict:
    """The score threshold with the best F1, with its precision and recall. Matching is greedy in score
    order, so raising the threshold never changes the match of a detection it keeps."""
    s, h, n_truth = _matches(truth, predicted, iou)
    if not len(s) or not n_truth:
        return {"threshold": 0.5, "precision": 0.0, "recall": 0.0, "f1": 0.0}
    tp = np.cumsum(h)
    precision, recall = tp / np.arange(1, len(h) + 1), tp / n_truth
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    best = int(f1.argmax())
    return {"threshold": float(s[best]), "precision": float(precision[best]), "recall": float(recall[best]),
            "f1": float(f1[best])}


def f1_at(truth: Sequence[Detections], predicted: Sequence[Detections], threshold: float, iou: float = 0.5) -> dict:
    """Precision, recall and F1 of the detections scoring at least ``threshold``."""
    s, h, n_truth = _matches(truth, predicted, iou)
    tp, n = int(h[s >= threshold].sum()), int((s >= threshold).sum())
    precision, recall = tp / max(n, 1), tp / max(n_truth, 1)
    return {"precision": precision, "recall": recall, "f1": 2 * precision * recall / max(precision + recall, 1e-12)}
