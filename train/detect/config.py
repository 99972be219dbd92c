"""The detection task's configurations and its part of the training record (dataclasses only)."""

from __future__ import annotations

from dataclasses import dataclass

from edgeward.core.config import at_least, check, option


@dataclass(frozen=True)
class DetectDataConfig:
    images: int = option(2000, "training images")
    holdout: int = option(300, "validation and test images, each")
    unseen_fonts: int | None = option(None, "test images in font families training never draws (default: --holdout)")
    size: int = option(320, "image side, pixels")
    max_digits: int = option(5, "most digits per image")
    seed: int = option(0, "random seed (the video takes seed + 1)")
    video_seconds: float = option(10.0, "a video of moving digits with per-frame ground truth (0: none)")

    def __post_init__(self):
        at_least(self, 1, "images", "holdout", "max_digits")
        if self.unseen_fonts is not None:
            at_least(self, 0, "unseen_fonts")
        at_least(self, 32, "size")
        at_least(self, 0, "video_seconds")


@dataclass(frozen=True)
class DetectorShape:
    size: int = option(320, "input side, pixels (a multiple of 16)")
    stride: int = option(8, "output stride (the heads sit at stride 8)", cli=False)
    widths: tuple[int, ...] = option((16, 32, 64, 128), "backbone widths: stem (stride 2), stride 4, 8, 16")
    neck: int = option(64, "width of the fused stride-8 features and the heads")
    gaussian_alpha: float = option(0.54, "heatmap sigma = alpha * box side / 6 (TTFNet)")

    def __post_init__(self):
        check(self, "size", isinstance(self.size, int) and self.size >= 32 and self.size % 16 == 0,
              "a whole number >= 32, a multiple of 16")
        check(self, "stride", self.stride == 8, "8 (the heads sit at stride 8)")
        check(self, "widths", len(self.widths) == 4 and all(isinstance(w, int) and w >= 1 for w in self.widths),
              "four whole numbers >= 1")
        at_least(self, 1, "neck")
        check(self, "gaussian_alpha", self.gaussian_alpha > 0, "a number > 0")

    @property
    def grid(self) -> int:
        return self.size // self.stride


@dataclass(frozen=True)
class DetectTrainConfig:
    images: str | None = option(None, "COCO JSON data: the folder of its images")
    epochs: int = option(30, "passes over the training images")
    batch_size: int = option(32, "images per batch")
    learning_rate: float = option(3e-3, "Adam's peak learning rate (warm-up, then cosine decay)")
    warmup_epochs: float = option(1.0, "epochs of learning-rate warm-up")
    shape: DetectorShape = option(factory=DetectorShape)
    scale: tuple[float, float] = option((0.7, 1.3), "random zoom: low high")
    shift: float = option(0.15, "random translation, share of the input size")
    holdout_images: int = option(300, "test images kept in holdout.npz for export checks and benchmarks")
    eval_every: int = option(5, "epochs between validation mAP measurements")
    seed: int = option(0, "random seed")

    def __post_init__(self):
        at_least(self, 1, "epochs", "batch_size", "holdout_images", "eval_every")
        at_least(self, 0, "warmup_epochs", "shift")
        check(self, "learning_rate", self.learning_rate > 0, "a number > 0")
        check(self, "scale", len(self.scale) == 2 and 0 < self.scale[0] <= self.scale[1], "two numbers > 0, low then high")


@dataclass(frozen=True)
class DetectPayload:
    """The detection task's part of the training record."""

    shape: dict  # DetectorShape
    images: str | None  # COCO: the images folder
    per_class: dict  # label -> {"ap50", "ap50_95"} on the test images
    threshold_rule: str
    threshold_quality: dict  # precision, recall, F1 at the threshold: "validation", "test"
    decoder: dict  # how the head's output is decoded: head, IoU threshold of the NMS

    def detector_shape(self) -> DetectorShape:
        return DetectorShape(**{k: tuple(v) if isinstance(v, list) else v for k, v in self.shape.items()})
