"""Detection post-processing in numpy: IoU, NMS, letterbox geometry, and the YOLOv5/YOLOv8 decoders.

Boxes are (x1, y1, x2, y2) in pixels throughout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` (N, 4) with every box in ``b`` (M, 4): (N, M)."""
    a, b = np.asarray(a, dtype=np.float64).reshape(-1, 4), np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, classes: np.ndarray | None = None,
        max_detections: int | None = None) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, highest score first. With ``classes``, boxes of
    different classes never suppress each other."""
    boxes, scores = np.asarray(boxes, dtype=np.float64).reshape(-1, 4), np.asarray(scores, dtype=np.float64).reshape(-1)
    if classes is not None:  # shift each class to its own region so that classes never overlap
        offset = (np.asarray(classes, dtype=np.float64) * (boxes.max(initial=0) + 1.0))[:, None]
        boxes = boxes + offset
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        if max_detections is not None and len(keep) >= max_detections:
            break
        rest = order[1:]
        order = rest[iou_matrix(boxes[i:i + 1], boxes[rest])[0] <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


@dataclass(frozen=True)
class Letterbox:
    """How a source image maps into the square model input: scale, then pad (left, top)."""

    scale: float
    pad_x: float
    pad_y: float
    width: int  # source size
    height: int

    @classmethod
    def fit(cls, width: int, height: int, size: int) -> "Letterbox":
        scale = min(size / width, size / height)
        return cls(scale, (size - round(width * scale)) / 2, (size - round(height * scale)) / 2, width, height)

    def to_source(self, boxes: np.ndarray) -> np.ndarray:
        """Model-input pixel boxes -> source-image pixel boxes, clipped to the image."""
        out = (np.asarray(boxes, dtype=np.float64) - [self.pad_x, self.pad_y, self.pad_x, self.pad_y]) / self.scale
        out[:, [0, 2]] = out[:, [0, 2]].clip(0, self.width)
        out[:, [1, 3]] = out[:, [1, 3]].clip(0, self.height)
        return out

    def to_input(self, boxes: np.ndarray) -> np.ndarray:
        return np.asarray(boxes, dtype=np.float64) * self.scale + [self.pad_x, self.pad_y, self.pad_x, self.pad_y]


def decode_yolo(output: np.ndarray, score_threshold: float, iou_threshold: float, max_detections: int,
                objectness: bool | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (xyxy, input pixels), scores and classes from a YOLO head.

    YOLOv8 layout: (1, 4 + C, N) rows cx, cy, w, h, class scores. YOLOv5 layout: (1, N, 5 + C) with an
    objectness column (scores = objectness x class score). ``objectness`` None: told apart by shape.
    """
    out = np.asarray(output, dtype=np.float32)
    if out.ndim == 3:
        out = out[0]
    if objectness is None:
        objectness = out.shape[0] > out.shape[1]  # v5: (N, 5 + C), anchors outnumber columns
    if objectness:
        rows = out
        cls_scores = rows[:, 5:] * rows[:, 4:5]
    else:
        rows = out.T  # v8: (4 + C, N) -> (N, 4 + C)
        cls_scores = rows[:, 4:]
    classes = cls_scores.argmax(axis=1)
    scores = cls_scores[np.arange(len(rows)), classes]
    mask = scores >= score_threshold
    cx, cy, w, h = (rows[mask, i] for i in range(4))
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    keep = nms(boxes, scores[mask], iou_threshold, classes[mask], max_detections)
    return boxes[keep], scores[mask][keep], classes[mask][keep]
