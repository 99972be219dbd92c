"""The classification task's configurations and its part of the training record (dataclasses only)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from edgeward.core.config import at_least, check, fraction, option


class ImageKind(str, Enum):
    OBJECTS = "objects"  # 10 shapes at 32x32 RGB, the shape of CIFAR-10; colour says nothing of the class
    NODULES = "nodules"  # 2 classes at 128x128 RGB: lung-like texture with or without a small blob
    DIGITS = "digits"  # 10 digits at 28x28, light on dark as MNIST has them, in many font families (digits.py)


class Arch(str, Enum):
    SMALL_CNN = "small-cnn"  # three conv blocks and global pooling: about 200k parameters at the default width
    MOBILENET = "mobilenet"  # MobileNetV2 (width 0.35), from scratch
    RESNET50 = "resnet50"  # ResNet50, from scratch (no downloaded weights)
    ARTICLE_CNN = "article-cnn"  # the founding article's CIFAR-10 CNN (train/zoo/images.py)
    NODULE_CNN = "nodule-cnn"  # the founding article's lung-nodule CNN (train/zoo/images.py)


@dataclass(frozen=True)
class ClassifyDataConfig:
    kind: ImageKind = option(ImageKind.OBJECTS, "what to draw: objects (10 shapes, 32x32), nodules (2 classes, "
                                                "128x128) or digits (10, 28x28)")
    per_class: int = option(600, "training images per class")
    holdout: int = option(100, "validation and test images per class, each")
    seed: int = option(0, "random seed (the video takes seed + 1)")
    video_seconds: float = option(10.0, "a video of the images, one a second, with its ground truth (0: none)")

    def __post_init__(self):
        if not isinstance(self.kind, ImageKind):
            object.__setattr__(self, "kind", ImageKind(self.kind))
        at_least(self, 1, "per_class", "holdout")
        at_least(self, 0, "video_seconds")


@dataclass(frozen=True)
class ClassifyTrainConfig:
    arch: Arch = option(Arch.SMALL_CNN, "the network")
    size: int | None = option(None, "input side, pixels (default: the training images' own)")
    weights: str | None = option(None, "resnet50, mobilenet: a local weights file for the backbone (Keras' ImageNet "
                                       "weights without the top, .h5); default: random (nothing is downloaded)")
    filters: int = option(32, "small-cnn: the first block's width (the others 2x and 3x)")
    epochs: int = option(30, "passes over the training images")
    batch_size: int = option(64, "images per batch")
    learning_rate: float = option(3e-3, "Adam's initial learning rate (cosine decay)")
    dropout: float = option(0.2, "dropout before the classifier")
    flip: bool = option(True, "random horizontal flips")
    shift: float = option(0.1, "random translation, share of the side")
    zoom: float = option(0.1, "random zoom in or out, share")
    brightness: float = option(0.2, "random brightness change, share of full scale")
    val: float = option(0.1, "a folder with no train/val/test split: share of images for validation")
    test: float = option(0.1, "a folder with no train/val/test split: share of images for testing")
    holdout_images: int = option(2000, "test images kept in holdout.npz for export checks and benchmarks")
    seed: int = option(0, "random seed")

    def __post_init__(self):
        if not isinstance(self.arch, Arch):
            object.__setattr__(self, "arch", Arch(self.arch))
        if self.weights is not None:
            check(self, "weights", self.arch in (Arch.RESNET50, Arch.MOBILENET),
                  f"none for --arch {self.arch.value} (only resnet50 and mobilenet take a weights file)")
            check(self, "weights", Path(self.weights).is_file(), "an existing weights file")
        if self.size is not None:
            check(self, "size", isinstance(self.size, int) and self.size >= 32, "a whole number >= 32")
        at_least(self, 1, "filters", "epochs", "batch_size", "holdout_images")
        check(self, "learning_rate", self.learning_rate > 0, "a number > 0")
        fraction(self, "dropout", "shift", "zoom", "brightness")
        fraction(self, "val", "test", low_open=True)
        check(self, "test", self.val + self.test < 1, "a share that, with val, leaves images for training")


@dataclass(frozen=True)
class ClassifyPayload:
    """The classification task's part of the training record."""

    preprocess: dict  # the runtime's ImagePreprocess: size, mode, mean, std
    arch: str
    confusion: list[list[int]]  # test images: true (rows) x predicted (columns), in label order
    positive: str | None = None  # binary tasks: the class whose probability the decision threshold applies to
    skipped: list[list[str]] | None = None  # unreadable images: [path, reason]
