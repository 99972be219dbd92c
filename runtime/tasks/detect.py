"""``Detector``: objects in images, from an edgeward detection model or an existing YOLO ONNX model.

Model contract: one input, float32 (1, 3, S, S) NCHW or (1, S, S, 3) NHWC (``manifest.inputs[0].layout``),
RGB scaled to 0-1, letterboxed (scale to fit, centred, padded with grey 114); one output, read by the
head that ``manifest.params["head"]`` names: ``centernet`` (edgeward's own, (1, G, G, C + 4) heatmaps and
edge distances), ``yolo`` (the YOLOv8 layout (1, 4 + C, N) or the YOLOv5 layout (1, N, 5 + C), boxes as
cx, cy, w, h in input pixels; YOLOv3 exported to ONNX by Ultralytics has the latter) or ``darknet`` (a Darknet
cfg and weights converted by ``Detector.from_darknet``: one raw map per yolo layer, ``params["yolo"]`` their
anchors). ``manifest.labels`` names the C classes. Detections come back in
source-image pixels.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from edgeward.core.config import at_least, fraction, option
from edgeward.core.errors import InputError, ManifestError, require
from edgeward.core.manifest import Manifest, Provenance, TensorInfo
from edgeward.devices import Profile
from edgeward.runtime.tasks.darknet import YoloHead, decode_darknet
from edgeward.runtime.tasks.detect_post import Letterbox, decode_centernet, decode_yolo, letterbox_input, match_detections
from edgeward.runtime.engine.catalogue import read_model_bytes
from edgeward.runtime.engine.model import PARITY_FP32_TOLERANCE, Model, ModelSource, ModelTask, Watched
from edgeward.runtime.registry import Feed

TASK = "detect"  # the manifest task this runtime reads
HEADS = ("centernet", "yolo", "darknet")
DEFAULT_SCORE = 0.25


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in source-image pixels
    label: str
    class_id: int
    score: float


@dataclass(frozen=True)
class DetectorOptions:
    score_threshold: float | None = option(None, "least score of a detection (default: the model's, else 0.25)")
    iou_threshold: float = option(0.45, "non-maximum suppression: boxes overlapping more than this are one")
    max_detections: int = option(100, "most detections per image")
    classes: tuple[str, ...] | None = option(None, "only these labels (default: all)")

    def __post_init__(self):
        if self.score_threshold is not None:
            fraction(self, "score_threshold", high_open=False)
        fraction(self, "iou_threshold", high_open=False)
        at_least(self, 1, "max_detections")


class Detector(ModelTask):
    task = TASK
    feeds = frozenset({Feed.IMAGES, Feed.VIDEO})
    options_type = DetectorOptions
    result_columns = ("detections", "count", "flag")  # an image's result (``image_result``): JSON, how many, any
    no_result = {"detections": "[]", "count": 0, "flag": False}  # an image that cannot be read (typed as a result)
    unwatched = {"detections": []}  # a live video's record before its first frame
    # video frames decoded once, on the first machine, into a .npy file: two machines' decoders do not give the same
    # pixels (``parity.decoded``), and the runtime is compared on the same inputs
    parity_feed = Feed.VIDEO

    @classmethod
    def parity_results(cls, artifact: str, source: str) -> dict:
        """Detections on the frames of ``source`` at score 0.05, and the raw head on every frame. An untrained
        model's heat map is flat, and which of its cells are peaks (and which boxes survive NMS) flips on rounding
        differences: at 0.05 such a model finds nothing and is compared on its raw outputs, while a trained one has
        real peaks and its decisions are compared (docs/decisions.md)."""
        found, heads = [], []
        options = DetectorOptions(score_threshold=0.05, max_detections=10)
        with cls.from_file(artifact, device="auto", threads=1, options=options) as detector:
            for number, frame in enumerate(np.load(source)):
                found += [[number, d.label, d.score, *d.box] for d in detector.detect(frame)]
                x, _ = detector.preprocess(frame)
                heads.append(detector.model.run({detector.model.input_names[0]: x})[detector.model.output_names[0]])
        return {"detections": found, "array:head_on_frames": np.concatenate(heads)}

    @staticmethod
    def parity_compare(a: dict, b: dict, names: tuple[str, str]) -> tuple[float, list, str]:
        matched, differ = match_detections(a["detections"], b["detections"], PARITY_FP32_TOLERANCE, names=names)
        return (max(matched, default=0.0), differ,
                f"{len(a['detections'])} detections on {names[0]}, {len(b['detections'])} on {names[1]}, {len(differ)} differ")

    def __init__(self, model: Model, options: DetectorOptions = DetectorOptions()):
        manifest = model.manifest
        if manifest.task != TASK:
            raise InputError(f"{model.source}: expected a detection model, got task '{manifest.task}'")
        spec = manifest.inputs[0]
        if len(spec.shape) != 4:
            raise ManifestError(f"{model.source}: expected a 4-D image input, got shape {spec.shape}")
        self.nchw = spec.layout.upper() == "NCHW"
        self.size = int(spec.shape[2] if self.nchw else spec.shape[1])
        self.labels = manifest.labels
        unknown = [c for c in (options.classes or ()) if c not in self.labels]
        if unknown:
            raise InputError(f"class allowlist: {unknown} not among the model's labels {list(self.labels)}")
        self._allow = None if options.classes is None else np.array([label in options.classes for label in self.labels])
        self.head = str(manifest.params.get("head", "centernet"))
        if self.head not in HEADS:
            raise ManifestError(f"{model.source}: params.head: expected one of {list(HEADS)}, got {self.head!r}")
        if options.score_threshold is None:
            options = replace(options, score_threshold=float(manifest.thresholds.get("score", DEFAULT_SCORE)))
        self.model, self.options, self._input = model, options, model.input_names[0]
        self._buffers = threading.local()  # detect()'s input buffer, reused frame after frame (one per thread)
        self._yolo = [YoloHead(tuple(map(tuple, h["anchors"])), int(h["classes"]), float(h.get("scale_xy", 1.0)))
                      for h in manifest.params.get("yolo", ())] if self.head == "darknet" else []
        self.timings: dict[str, float] = {}

    @classmethod
    def from_file(cls, source: ModelSource, device: str | Profile | None = "auto", threads: int | None = None,
                  options: DetectorOptions = DetectorOptions()) -> "Detector":
        return cls(Model(source, device=device, threads=threads), options)

    @classmethod
    def from_yolo(cls, source: ModelSource, labels: str | os.PathLike | list[str], device: str | Profile | None = "auto",
                  threads: int | None = None, options: DetectorOptions = DetectorOptions()) -> "Detector":
        """An existing YOLOv5/YOLOv8-layout ONNX detector (exported elsewhere, no edgeward manifest) and
        its class names: a list, a text file with one name per line, or a YOLO data.yaml."""
        import onnx

        data, name = read_model_bytes(source)
        names = _read_labels(labels)
        graph = onnx.load_from_string(data).graph
        dims = [d.dim_value or None for d in graph.input[0].type.tensor_type.shape.dim]
        if len(dims) != 4 or dims[1] not in (3, None) and dims[3] != 3:
            raise InputError(f"{name}: expected an image input (1, 3, S, S) or (1, S, S, 3), got {dims}")
        layout = "NCHW" if dims[1] == 3 else "NHWC"
        manifest = Manifest(
            task=TASK, format="onnx", precision="unknown",
            inputs=(TensorInfo(graph.input[0].name, (1, *dims[1:]), "float32", layout, "RGB / 255, letterbox 114"),),
            outputs=tuple(TensorInfo(o.name, (), "float32", "yolo") for o in graph.output),
            labels=tuple(names), features=(), thresholds={}, metrics=(),
            provenance=Provenance("", {}, "", "", "", ""), params={"head": "yolo", "source": name},
        )
        return cls(Model(data, device=device, threads=threads, manifest=manifest), options)

    @classmethod
    def from_darknet(cls, cfg: str | os.PathLike, weights: str | os.PathLike, labels: str | os.PathLike | list[str],
                     device: str | Profile | None = "auto", threads: int | None = None,
                     options: DetectorOptions = DetectorOptions()) -> "Detector":
        """A Darknet YOLO (``yolov3.cfg``, ``yolov3.weights`` and its class names: a list, a ``coco.names`` file or a
        YOLO data.yaml), converted to ONNX in memory (``runtime.darknet``) and run by ONNX Runtime."""
        from edgeward.runtime.tasks.darknet import darknet_to_onnx

        names = _read_labels(labels)
        data, size, heads = darknet_to_onnx(cfg, weights)
        if any(h.classes != len(names) for h in heads):
            raise InputError(f"{labels}: expected {heads[0].classes} class names (the cfg's classes), got {len(names)}")
        manifest = Manifest(
            task=TASK, format="onnx", precision="fp32",
            inputs=(TensorInfo("image", (1, 3, size, size), "float32", "NCHW", "RGB / 255, letterbox 114"),),
            outputs=tuple(TensorInfo(f"yolo{i}", (), "float32", "darknet") for i in range(len(heads))),
            labels=tuple(names), features=(), thresholds={}, metrics=(),
            provenance=Provenance("", {}, "", "", "", ""),
            params={"head": "darknet", "source": str(cfg), "yolo": [{"anchors": [list(a) for a in h.anchors],
                                                                     "classes": h.classes, "scale_xy": h.scale_xy}
                                                                    for h in heads]},
        )
        model = Model(data, device=device, threads=threads, manifest=manifest)
        model.source = str(cfg)
        return cls(model, options)

    def preprocess(self, image: np.ndarray, bgr: bool = True, out: np.ndarray | None = None) -> tuple[np.ndarray, Letterbox]:
        """The model input of one image (letterboxed, RGB, 0-1, the model's layout) and the mapping back to its
        pixels; written into ``out`` when it has the input's shape."""
        require("cv2", "camera")
        if not isinstance(image, np.ndarray):
            raise InputError(f"image: expected a numpy array of (H, W, 3) uint8 pixels, got {type(image).__name__}")
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or 0 in image.shape:
            raise InputError(f"image: expected (H, W, 3) uint8 pixels, H and W above 0, got shape {image.shape} {image.dtype}")
        return letterbox_input(image, self.size, bgr, self.nchw, out)

    def _decode(self, out: np.ndarray | list[np.ndarray], max_detections: int):
        o = self.options
        if self.head == "darknet":
            return decode_darknet(out, self._yolo, self.size, o.score_threshold, o.iou_threshold, max_detections)
        if self.head == "centernet":
            return decode_centernet(out, self.size, o.score_threshold, o.iou_threshold, max_detections)
        return decode_yolo(out, o.score_threshold, o.iou_threshold, max_detections)

    def image_result(self, image: np.ndarray) -> dict:
        """One image's result as a table row (``result_columns``): its detections as JSON, how many, whether any."""
        import json

        found = self.detect(image)
        return {"detections": json.dumps(_as_json(found)), "count": len(found), "flag": bool(found)}

    def watch(self, frames):
        """Each (number, frame) of a live video source with its detections drawn; its record holds the
        detections, the frames per second and the timings."""
        from edgeward.runtime.io.draw import annotate
        from edgeward.runtime.io.video_loop import detect_frames

        for f in detect_frames(self, frames):
            record = {"detections": _as_json(f.detections), "fps": round(f.fps, 1),
                      **{k: round(v, 3) for k, v in f.timings.items()}}
            yield Watched(annotate(f.frame, f.detections, f.fps), record)

    def detect(self, image: np.ndarray, bgr: bool = True) -> list[Detection]:
        """Detections in one image (OpenCV's BGR by default; ``bgr=False`` for RGB)."""
        t0 = time.perf_counter()
        x, lb = self.preprocess(image, bgr, getattr(self._buffers, "input", None))  # one input buffer per thread
        self._buffers.input = x
        t1 = time.perf_counter()
        outs = self.model.run({self._input: x}, validate=False)
        out = [outs[n] for n in self.model.output_names] if self._yolo else outs[self.model.output_names[0]]
        t2 = time.perf_counter()
        boxes, scores, classes = self._decode(out, self.options.max_detections if self._allow is None else 10 ** 9)
        if self._allow is not None:
            keep = self._allow[classes]
            boxes, scores, classes = boxes[keep][: self.options.max_detections], scores[keep][: self.options.max_detections], \
                classes[keep][: self.options.max_detections]
        boxes = lb.to_source(boxes) if len(boxes) else boxes
        t3 = time.perf_counter()
        self.timings = {"preprocess_ms": (t1 - t0) * 1e3, "inference_ms": (t2 - t1) * 1e3, "postprocess_ms": (t3 - t2) * 1e3}
        return [Detection(tuple(float(v) for v in b), self.labels[int(c)], int(c), float(s))
                for b, s, c in zip(boxes, scores, classes)]


def _as_json(found: list[Detection]) -> list[dict]:
    return [{"label": d.label, "score": round(float(d.score), 4), "box": [round(float(v), 1) for v in d.box]}
            for d in found]


def _read_labels(labels) -> list[str]:
    if isinstance(labels, (list, tuple)):
        names = [str(n) for n in labels]
    else:
        path = Path(labels)
        if not path.exists():
            raise InputError(f"{path}: labels file not found")
        if path.suffix in (".yaml", ".yml"):
            yaml = require("yaml", "train")
            data = yaml.safe_load(path.read_text()) or {}
            names = data.get("names", [])
            names = [names[k] for k in sorted(names)] if isinstance(names, dict) else list(names)
        else:
            names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not names:
        raise InputError(f"{labels}: expected class names, got none")
    return names
