"""``Classifier``: what an image shows, from an edgeward classification model.

Model contract: task ``classify``; one input, float32 (N, S, S, 3) NHWC, an image resized to S x S and
scaled as ``manifest.params["preprocess"]`` says (``ImagePreprocess``: ``scale`` is RGB / 255, ``meanstd``
is then (x - mean) / std per channel, ``caffe`` is BGR minus the ImageNet means, unscaled); one output,
(N, C) class probabilities in the order of ``manifest.labels``. A two-class model carries
``manifest.thresholds["decision"]``, the probability of ``manifest.params["positive"]`` that decides it.
Training runs its images through the same ``ImagePreprocess``, so training and serving cannot drift.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, fields

import numpy as np

from edgeward.core.config import at_least, option
from edgeward.core.errors import InputError, ManifestError, require
from edgeward.devices import Profile
from edgeward.runtime.engine.model import Model, ModelSource, ModelTask
from edgeward.runtime.registry import Feed

TASK = "classify"  # the manifest task this runtime reads
MODES = ("scale", "meanstd", "caffe")
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)  # ImageNet's channel means, as Keras' caffe-style preprocessing has them


@dataclass(frozen=True)
class ImagePreprocess:
    """How an image becomes the model's input: resized to ``size`` x ``size`` (area averaging when it
    shrinks), then scaled by ``mode``."""

    size: int
    mode: str = "scale"
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)  # meanstd: per RGB channel, on the 0-1 scale
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def __post_init__(self):
        if self.mode not in MODES:
            raise ManifestError(f"preprocess mode: expected one of {', '.join(MODES)}, got {self.mode!r}")

    def resize(self, rgb: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 RGB -> (size, size, 3) uint8."""
        cv2 = require("cv2", "camera")
        if rgb.shape[:2] == (self.size, self.size):
            return rgb
        shrink = rgb.shape[0] > self.size or rgb.shape[1] > self.size
        return cv2.resize(rgb, (self.size, self.size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)

    def scale(self, rgb: np.ndarray) -> np.ndarray:
        """Resized uint8 RGB (..., size, size, 3) -> float32 model input."""
        x = np.asarray(rgb, dtype=np.float32)
        if self.mode == "caffe":
            return x[..., ::-1] - np.asarray(CAFFE_MEAN_BGR, np.float32)
        x = x / 255.0
        if self.mode == "meanstd":
            x = (x - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        return x

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, source: str = "manifest") -> "ImagePreprocess":
        known = {f.name for f in fields(cls)}
        if not isinstance(data, dict) or "size" not in data:
            raise ManifestError(f"{source}: manifest field 'params.preprocess.size' is missing")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known})


def as_rgb(image: np.ndarray, bgr: bool) -> np.ndarray:
    """A uint8 image of any common layout as (H, W, 3) RGB: greyscale (H, W) or (H, W, 1), RGB or BGR, and
    RGBA or BGRA (the alpha dropped)."""
    if not isinstance(image, np.ndarray):
        raise InputError(f"image: expected a numpy array of uint8 pixels, got {type(image).__name__}")
    x = image
    if x.dtype != np.uint8:
        raise InputError(f"image: expected uint8 pixels, got {x.dtype}")
    if 0 in x.shape[:2]:
        raise InputError(f"image: expected H and W above 0, got shape {x.shape}")
    if x.ndim == 3 and x.shape[2] == 1:
        x = x[:, :, 0]
    if x.ndim == 2:
        return np.repeat(x[:, :, None], 3, axis=2)
    if x.ndim != 3 or x.shape[2] not in (3, 4):
        raise InputError(f"image: expected (H, W), (H, W, 3) or (H, W, 4) pixels, got shape {x.shape}")
    x = x[:, :, :3]
    return x[:, :, ::-1] if bgr else x


@dataclass(frozen=True)
class Prediction:
    label: str
    class_id: int
    score: float  # the class's probability


@dataclass(frozen=True)
class ClassifierOptions:
    top_k: int = option(5, "classes per image, most likely first")

    def __post_init__(self):
        at_least(self, 1, "top_k")


class Classifier(ModelTask):
    """Images in, the most likely classes out. ``classify`` expects OpenCV's BGR order by default (what
    ``LatestFrames`` and ``cv2.imread`` give); pass ``bgr=False`` for RGB (PIL, most other readers)."""

    task = TASK
    feeds = frozenset({Feed.IMAGES})
    result_columns = ("label", "score", "top", "flag")  # an image's result (``image_result``): the best, the 5 best as JSON
    no_result = {"label": "", "score": float("nan"), "top": "[]", "flag": False}

    def __init__(self, model: Model, options: ClassifierOptions = ClassifierOptions()):
        manifest = model.manifest
        if manifest.task != TASK:
            raise InputError(f"{model.source}: expected a {TASK} model, got task '{manifest.task}'")
        if len(manifest.inputs) != 1 or len(manifest.inputs[0].shape) != 4:
            raise ManifestError(f"{model.source}: expected one 4-D image input, got {[t.shape for t in manifest.inputs]}")
        self.model, self.options, self.labels = model, options, manifest.labels
        self.preprocess = ImagePreprocess.from_dict(manifest.params.get("preprocess", {}), model.source)
        self.positive = manifest.params.get("positive")
        self.threshold = manifest.thresholds.get("decision")
        self._input = model.input_names[0]
        self.timings: dict[str, float] = {}

    @classmethod
    def from_file(cls, source: ModelSource, device: str | Profile | None = "auto", threads: int | None = None,
                  options: ClassifierOptions = ClassifierOptions()) -> "Classifier":
        return cls(Model(source, device=device, threads=threads), options)

    def probabilities(self, images: list[np.ndarray] | np.ndarray, bgr: bool = True) -> np.ndarray:
        """(N, C) class probabilities of a batch of images (any sizes and layouts ``as_rgb`` takes)."""
        batch = [images] if isinstance(images, np.ndarray) and images.ndim in (2, 3) else images
        x = self.preprocess.scale(np.stack([self.preprocess.resize(as_rgb(image, bgr)) for image in batch]))
        return self.model.run({self._input: x}, validate=False)[self.model.output_names[0]]

    def image_result(self, image: np.ndarray) -> dict:
        """One image's result as a table row (``result_columns``): the top class and its score, the 5 best as JSON,
        and whether the top class reaches 0.5."""
        import json

        top = self.classify(image, top_k=5)
        return {"label": top[0].label, "score": float(top[0].score), "flag": bool(top[0].score >= 0.5),
                "top": json.dumps([{"label": p.label, "score": round(float(p.score), 4)} for p in top])}

    def classify(self, image: np.ndarray, top_k: int | None = None, bgr: bool = True) -> list[Prediction]:
        """The ``top_k`` (default: the options') most likely classes of one image, most likely first."""
        t0 = time.perf_counter()
        x = self.preprocess.scale(self.preprocess.resize(as_rgb(image, bgr)))[None]
        t1 = time.perf_counter()
        probs = self.model.run({self._input: x}, validate=False)[self.model.output_names[0]][0]
        t2 = time.perf_counter()
        k = min(top_k or self.options.top_k, len(probs))
        order = np.argsort(-probs, kind="stable")[:k]
        found = [Prediction(self.labels[i], int(i), float(probs[i])) for i in order]
        self.timings = {"preprocess_ms": (t1 - t0) * 1e3, "inference_ms": (t2 - t1) * 1e3,
                        "postprocess_ms": (time.perf_counter() - t2) * 1e3}
        return found

    def decide(self, probs: np.ndarray) -> np.ndarray:
        """Class indices for (N, C) probabilities: the most likely class, or for a two-class model the positive
        class where its probability reaches the decision threshold."""
        probs = np.asarray(probs)
        if self.threshold is None or self.positive not in self.labels:
            return probs.argmax(axis=-1)
        pos = self.labels.index(self.positive)
        return np.where(probs[:, pos] >= self.threshold, pos, 1 - pos)
