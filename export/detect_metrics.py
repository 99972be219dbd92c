"""mAP the COCO way (the algorithm of pycocotools' COCOeval for boxes, area "all", 100 detections per
image and class): per class, detections sorted by score are matched greedily to the best unmatched
ground truth at each IoU threshold; precision is made monotone and read at 101 recall points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgeward.runtime.detect_post import iou_matrix

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
            q = np.where(idx < len(precision), precision[np.minimum(idx, len(precision) - 1)], 0.0)
            aps.append(float(q.mean()))
        per_class[c] = (aps[0], float(np.mean(aps)))
    if not per_class:
        return {"map50": 0.0, "map50_95": 0.0, "per_class": {}}
    return {"map50": float(np.mean([v[0] for v in per_class.values()])),
            "map50_95": float(np.mean([v[1] for v in per_class.values()])), "per_class": per_class}
