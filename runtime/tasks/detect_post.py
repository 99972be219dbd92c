"""Detection pre- and post-processing in numpy: letterbox, IoU, NMS, and the decoders of the edgeward
CenterNet head and of YOLOv5/YOLOv8 heads.

Boxes are (x1, y1, x2, y2) in pixels throughout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PAD_VALUE = 114  # letterbox padding grey, as in YOLO
INPUT_SCALE = np.float32(1 / 255)  # uint8 pixels -> the models' 0-1 inputs
NMS_MATRIX_MAX = 1024  # up to this many candidates, NMS computes the IoU of every pair of one class at once,
NMS_PAIRS_MAX = 1 << 17  # where there are at most this many such pairs (about 8 MiB of coordinates); else box by box


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` (N, 4) with every box in ``b`` (M, 4): (N, M)."""
    a, b = np.asarray(a, dtype=np.float64).reshape(-1, 4).T, np.asarray(b, dtype=np.float64).reshape(-1, 4).T
    # one coordinate at a time (no (N, M, 2) arrays): a fifth of the time, the same values
    return _iou(*(a[k][:, None] for k in range(4)), *b)


def _iou(ax1, ay1, ax2, ay2, bx1, by1, bx2, by2) -> np.ndarray:
    """IoU of boxes given by their coordinates, broadcast against each other: a matrix (``iou_matrix``) or pairs
    (``nms``), by the same operations, so the same values."""
    inter = np.minimum(ax2, bx2)
    inter -= np.maximum(ax1, bx1)
    np.maximum(inter, 0.0, out=inter)
    height = np.minimum(ay2, by2)
    height -= np.maximum(ay1, by1)
    np.maximum(height, 0.0, out=height)
    inter *= height
    union = np.maximum(ax2 - ax1, 0.0) * np.maximum(ay2 - ay1, 0.0) + np.maximum(bx2 - bx1, 0.0) * np.maximum(by2 - by1, 0.0)
    union -= inter
    iou = inter / np.maximum(union, 1e-12)
    iou[union <= 0] = 0.0
    return iou


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
    if order.size <= NMS_MATRIX_MAX:
        kept = _greedy(boxes[order], None if classes is None else np.asarray(classes)[order], iou_threshold, max_detections)
        if kept is not None:
            return order[kept]
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        if max_detections is not None and len(keep) >= max_detections:
            break
        rest = order[1:]
        order = rest[iou_matrix(boxes[i:i + 1], boxes[rest])[0] <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def _greedy(boxes: np.ndarray, classes: np.ndarray | None, iou_threshold: float,
            max_detections: int | None) -> np.ndarray | None:
    """Greedy NMS over boxes already in score order: the positions kept (None: more pairs than ``NMS_PAIRS_MAX``).
    Only pairs of one class can suppress, so only their IoU is computed, all at once; a box that is kept suppresses
    the later boxes it overlaps."""
    n = len(boxes)
    same = np.ones((n, n), dtype=bool) if classes is None else classes[:, None] == classes[None, :]
    same = np.triu(same, 1)
    if np.count_nonzero(same) > NMS_PAIRS_MAX:
        return None
    first, second = np.nonzero(same)  # row by row: ``first`` ascends
    over = _iou(*boxes[first].T, *boxes[second].T) > iou_threshold
    first, second = first[over], second[over]
    suppressed = np.zeros(n, dtype=bool)
    bounds = np.flatnonzero(np.r_[True, first[1:] != first[:-1], True]) if len(first) else np.zeros(1, dtype=np.int64)
    for lo, hi in zip(bounds[:-1], bounds[1:]):  # each box that overlaps later ones, in score order
        if not suppressed[first[lo]]:
            suppressed[second[lo:hi]] = True
    kept = np.flatnonzero(~suppressed)
    return kept[:max_detections] if max_detections is not None else kept


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
    else:  # v8: (4 + C, N); the best class of a candidate only where its best score passes (most do not)
        best = out[4:].max(axis=0)
        index = np.flatnonzero(best >= score_threshold)
        classes, scores = out[4:, index].argmax(axis=0), best[index]
        cx, cy, w, h = (out[i, index] for i in range(4))
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        keep = nms(boxes, scores, iou_threshold, classes, max_detections)
        return boxes[keep], scores[keep], classes[keep]
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
    resized, lb, x0, y0 = _fitted(image, size)
    nh, nw = resized.shape[:2]
    canvas = np.full((size, size, 3), PAD_VALUE, dtype=np.uint8)
    canvas[y0:y0 + nh, x0:x0 + nw] = resized[:, :, ::-1] if bgr else resized
    return canvas, lb


def _fitted(image: np.ndarray, size: int) -> tuple[np.ndarray, Letterbox, int, int]:
    """The image scaled to fit ``size`` x ``size``, the mapping back, and where it goes (left, top)."""
    import cv2

    h, w = image.shape[:2]
    lb = Letterbox.fit(w, h, size)
    nw, nh = max(1, round(w * lb.scale)), max(1, round(h * lb.scale))  # a 5000 x 2 image keeps a pixel's width
    x0, y0 = int(round(lb.pad_x - 0.1)), int(round(lb.pad_y - 0.1))
    # bit-exact bilinear: OpenCV's INTER_LINEAR rounds differently on aarch64, and a trained detector's scores follow
    # the pixels; the exact variant gives the same pixels everywhere (docs/decisions.md)
    resized = image if (nw, nh) == (w, h) else cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR_EXACT)
    return resized, Letterbox(lb.scale, float(x0), float(y0), w, h), x0, y0


def to_input(canvas: np.ndarray) -> np.ndarray:
    """uint8 RGB (..., H, W, 3) -> float32 0-1, the model's input scaling."""
    return np.asarray(canvas, dtype=np.float32) * INPUT_SCALE


def letterbox_input(image: np.ndarray, size: int, bgr: bool = True, nchw: bool = True,
                    out: np.ndarray | None = None) -> tuple[np.ndarray, Letterbox]:
    """The model input of an (H, W, 3) uint8 image in one pass: the very values of
    ``to_input(letterbox_image(image, size, bgr))`` (a test keeps them equal, so that training and the runtime
    share one preprocessing), laid out (1, 3, size, size) with ``nchw``, else (1, size, size, 3). Written into
    ``out`` when it has that shape (a buffer reused from frame to frame: no allocation, no page faults)."""
    resized, lb, x0, y0 = _fitted(image, size)
    nh, nw = resized.shape[:2]
    shape = (1, 3, size, size) if nchw else (1, size, size, 3)
    if out is None or out.shape != shape or out.dtype != np.float32:
        out = np.empty(shape, dtype=np.float32)
    plane = out[0] if nchw else np.moveaxis(out[0], 2, 0)  # (3, size, size) views either way
    pad = np.float32(PAD_VALUE) * INPUT_SCALE
    for strip in (plane[:, :y0], plane[:, y0 + nh:], plane[:, y0:y0 + nh, :x0], plane[:, y0:y0 + nh, x0 + nw:]):
        strip.fill(pad)  # the border only: the image covers the rest
    for channel in range(3):  # a cast copy, then a multiply in place (not numpy's buffered uint8 -> float32 loop)
        target = plane[channel, y0:y0 + nh, x0:x0 + nw]
        target[...] = resized[:, :, 2 - channel if bgr else channel]
        target *= INPUT_SCALE
    return out, lb


def match_detections(a: list, b: list, tolerance: float, names: tuple[str, str] = ("x86", "arm64")) -> tuple[list[float], list]:
    """The parity check of detections across machines (``Detector.parity_compare``; ``tolerance``: the check's fp32
    tolerance). Compares detections (frame, label, score, x1, y1, x2, y2) frame by frame: the same number, the same scores in
    order (their differences are returned), and for each detection whose score no other in its frame shares (within
    ``tolerance``) the same label and a box within 1 pixel. Among equal scores which box wins is arbitrary on any
    machine (an untrained or int8 model has many ties), so those boxes are not compared. Returns the score
    differences and the differences found."""
    diffs, differ = [], []
    for frame in sorted({d[0] for d in a} | {d[0] for d in b}):
        fa = sorted((d for d in a if d[0] == frame), key=lambda d: -d[2])
        fb = sorted((d for d in b if d[0] == frame), key=lambda d: -d[2])
        if len(fa) != len(fb):
            differ.append([frame, f"{len(fa)} detections on {names[0]}, {len(fb)} on {names[1]}"])
            continue
        for x, y in zip(fa, fb):
            diffs.append(abs(x[2] - y[2]))
            unique = sum(abs(z[2] - x[2]) <= tolerance for z in fa) == 1
            if unique and (x[1] != y[1] or max(abs(p - q) for p, q in zip(x[3:], y[3:])) > 1.0):
                differ.append([frame, f"{names[0]} {x[1]} {x[2]:.4f} at {[round(v) for v in x[3:]]}, "
                                      f"{names[1]} {y[1]} {y[2]:.4f} at {[round(v) for v in y[3:]]}"])
    return diffs, differ
