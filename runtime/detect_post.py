"""Detection pre- and post-processing in numpy: letterbox, IoU, NMS, and the decoders of the edgeward
CenterNet head and of YOLOv5/YOLOv8 heads.

Boxes are (x1, y1, x2, y2) in pixels throughout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PAD_VALUE = 114  # letterbox padding grey, as in YOLO


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
        span = boxes.max(initial=0.0) - min(boxes.min(initial=0.0), 0.0) + 1.0
        offset = (np.asarray(classes, dtype=np.float64) * span)[:, None]
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


def _peaks(heat: np.ndarray) -> np.ndarray:
    """Cells that equal the maximum of their 3x3 neighbourhood in their own class map (G, G, C)."""
    padded = np.pad(heat, ((1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    g0, g1 = heat.shape[:2]
    neighbourhood = np.max([padded[dy:dy + g0, dx:dx + g1] for dy in range(3) for dx in range(3)], axis=0)
    return heat >= neighbourhood


def decode_centernet(output: np.ndarray, size: int, score_threshold: float, iou_threshold: float,
                     max_detections: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (xyxy, input pixels), scores and classes from an edgeward CenterNet head.

    ``output`` (1, G, G, C + 4) or (G, G, C + 4): C class heatmaps, then the distances from each cell
    centre to the left, top, right and bottom box edges as fractions of the input ``size``. Objects are
    the heatmap's local maxima (3x3) at or above the threshold; a class-wise NMS removes the rare
    duplicate peaks.
    """
    out = np.asarray(output, dtype=np.float32)
    if out.ndim == 4:
        out = out[0]
    grid, n_classes = out.shape[0], out.shape[2] - 4
    heat = out[:, :, :n_classes]
    rows, cols, classes = np.nonzero((heat >= score_threshold) & _peaks(heat))
    scores = heat[rows, cols, classes]
    order = np.argsort(-scores, kind="stable")[: max(max_detections * 4, max_detections)]
    rows, cols, classes, scores = rows[order], cols[order], classes[order], scores[order]
    stride = size / grid
    cx, cy = (cols + 0.5) * stride, (rows + 0.5) * stride
    d = out[rows, cols, n_classes:] * size
    boxes = np.stack([cx - d[:, 0], cy - d[:, 1], cx + d[:, 2], cy + d[:, 3]], axis=1).astype(np.float64)
    keep = nms(boxes, scores, iou_threshold, classes, max_detections)
    return boxes[keep], scores[keep], classes[keep]


def letterbox_image(image: np.ndarray, size: int, bgr: bool = True) -> tuple[np.ndarray, Letterbox]:
    """An (H, W, 3) uint8 image scaled to fit ``size`` x ``size``, centred on grey 114, as RGB uint8;
    and the mapping back to source pixels. Training and the runtime ``Detector`` both use this."""
    import cv2

    h, w = image.shape[:2]
    lb = Letterbox.fit(w, h, size)
    nw, nh = max(1, round(w * lb.scale)), max(1, round(h * lb.scale))  # a 5000 x 2 image keeps a pixel's width
    canvas = np.full((size, size, 3), PAD_VALUE, dtype=np.uint8)
    x0, y0 = int(round(lb.pad_x - 0.1)), int(round(lb.pad_y - 0.1))
    # bit-exact bilinear: OpenCV's INTER_LINEAR rounds differently on aarch64, and a trained detector's scores follow
    # the pixels; the exact variant gives the same pixels everywhere (docs/decisions.md)
    resized = image if (nw, nh) == (w, h) else cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR_EXACT)
    canvas[y0:y0 + nh, x0:x0 + nw] = resized[:, :, ::-1] if bgr else resized
    return canvas, Letterbox(lb.scale, float(x0), float(y0), w, h)


def to_input(canvas: np.ndarray) -> np.ndarray:
    """uint8 RGB (..., H, W, 3) -> float32 0-1, the model's input scaling."""
    return np.asarray(canvas, dtype=np.float32) * np.float32(1 / 255)
