"""What an artifact is: format x precision x source model, and the options that make it.

Each task declares the artifacts it supports, with the reason for each exclusion.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum


class Format(str, Enum):
    ONNX = "onnx"
    TFLITE = "tflite"


class Precision(str, Enum):
    FP32 = "fp32"
    FP16 = "fp16"
    INT8_DYNAMIC = "int8-dynamic"  # TFLite dynamic-range: int8 weights, float activations
    INT8 = "int8"  # ONNX QDQ (post-training static, or from QAT); TFLite full-integer


class Source(str, Enum):
    """Which Keras model of the run an artifact comes from (its file: ``edgeward.core.rundir.SOURCES``)."""

    BASE = "base"
    PRUNED = "pruned"
    QAT = "qat"
    PRUNED_QAT = "pruned-qat"

    @property
    def is_qat(self) -> bool:
        return self in (Source.QAT, Source.PRUNED_QAT)


class Calibration(str, Enum):
    MINMAX = "minmax"
    ENTROPY = "entropy"
    PERCENTILE = "percentile"


class Activations(str, Enum):
    """ONNX post-training int8 activations. ``u8`` (asymmetric uint8, int8 weights): onnxruntime's fast
    x86 kernels (docs/decisions.md). ``s8`` (symmetric int8): what TensorRT requires, chosen for targets
    whose providers include it."""

    U8 = "u8"
    S8 = "s8"


@dataclass(frozen=True)
class ArtifactSpec:
    format: Format
    precision: Precision
    source: Source = Source.BASE
    per_channel: bool = True  # ONNX post-training int8
    calibration: Calibration = Calibration.MINMAX  # ONNX post-training int8
    exclude_nodes: tuple[str, ...] = ()  # ONNX post-training int8: nodes kept in float
    activations: Activations = Activations.U8  # ONNX post-training int8
    # ONNX post-training int8: 7-bit weights, so that u8 x s8 pairs added in 16 bits cannot saturate (AVX2 without
    # VNNI: devices.cpu); chosen when the targets include such a CPU
    reduce_range: bool = False
    int8_io: bool = False  # TFLite full-integer: int8 input and output tensors

    @property
    def name(self) -> str:
        parts = ["model"]
        if self.source is not Source.BASE:
            parts.append(self.source.value)
        if self.precision is not Precision.FP32:
            parts.append(self.precision.value)
        if self.int8_io:
            parts.append("int8io")
        return "-".join(parts) + "." + self.format.value

    def check(self) -> "ArtifactSpec":
        from edgeward.core.errors import InputError

        if self.source.is_qat and self.precision is not Precision.INT8:
            raise InputError(f"a QAT model exports as int8, got precision {self.precision.value}")
        if self.precision is Precision.INT8_DYNAMIC and self.format is not Format.TFLITE:
            raise InputError("int8-dynamic is a TFLite precision; for ONNX use int8 (static QDQ)")
        if self.int8_io and not (self.format is Format.TFLITE and self.precision is Precision.INT8 and not self.source.is_qat):
            raise InputError("int8 I/O applies to TFLite full-integer post-training int8 only")
        return self

    def describe(self) -> str:
        how = {
            (Format.ONNX, Precision.FP32): "tf2onnx",
            (Format.ONNX, Precision.FP16): "tf2onnx + fp16 weights and activations (I/O float32)",
            (Format.ONNX, Precision.INT8): ("tf2onnx of the QAT graph (QDQ)" if self.source.is_qat else
                                            f"quantize_static QDQ, {self.activations.value} activations, "
                                            f"{self.calibration.value}, {'per-channel' if self.per_channel else 'per-tensor'}"
                                            + (", 7-bit weights" if self.reduce_range else "")
                                            + (f", {len(self.exclude_nodes)} node(s) in float" if self.exclude_nodes else "")),
            (Format.TFLITE, Precision.FP32): "TFLite converter",
            (Format.TFLITE, Precision.FP16): "TFLite fp16 weights",
            (Format.TFLITE, Precision.INT8_DYNAMIC): "TFLite dynamic-range int8",
            (Format.TFLITE, Precision.INT8): ("TFLite from the QAT graph" if self.source.is_qat else
                                              "TFLite full-integer int8, " + ("int8 I/O" if self.int8_io else "float I/O")),
        }
        return how[(self.format, self.precision)]

    def but(self, **changes) -> "ArtifactSpec":
        return replace(self, **changes)

    @property
    def int8(self) -> bool:
        """Whether the file computes in integers (its accuracy then depends on the CPU's kernels)."""
        return self.precision in (Precision.INT8, Precision.INT8_DYNAMIC)

    def quantization(self) -> dict:
        """The settings an int8 file was made with, for its manifest ({} for float files)."""
        if not self.int8:
            return {}
        if self.format is Format.TFLITE or self.source.is_qat:
            return {"method": self.describe()}
        return {"method": self.describe(), "activations": self.activations.value, "weights": "s8",
                "weight_bits": 7 if self.reduce_range else 8, "per_channel": self.per_channel,
                "calibration": self.calibration.value, "float_nodes": len(self.exclude_nodes)}


@dataclass(frozen=True)
class ModelTraits:
    """What about a model rules artifacts out (``excluded``)."""

    float_prefix: bool = False  # it starts with preprocessing layers (Normalization, Rescaling) taking raw values
    calibrated: bool = True  # the run has real inputs to calibrate post-training int8 on
    recurrent: bool = False  # it has a recurrent layer (LSTM, GRU, SimpleRNN)


def excluded(spec: ArtifactSpec, traits: ModelTraits = ModelTraits()) -> str | None:
    """Why a model family cannot have this artifact, or None if it can.

    A model whose graph starts with a Normalization layer takes raw values of very different ranges
    (amounts, seconds, rates). TFLite full-integer int8 quantizes the model input and that
    layer with one int8 scale, which erases most features (docs/decisions.md). ONNX int8 keeps such
    leading layers in float; TFLite dynamic-range int8 and the QAT TFLite keep float activations there.
    A recurrent layer becomes a WHILE loop in TFLite, and TensorFlow's calibrator crashes the process on it
    (a segmentation fault, tensorflow#75140): no full-integer TFLite for those.
    """
    if not traits.calibrated and spec.precision is Precision.INT8 and not spec.source.is_qat:
        return ("post-training int8 needs real inputs to calibrate on, and this run has none: adopt the model again "
                "with --calibration DATA; TFLite int8-dynamic needs none")
    full_integer_tflite = spec.format is Format.TFLITE and spec.precision is Precision.INT8
    if traits.float_prefix and full_integer_tflite and not spec.source.is_qat:
        return ("TFLite full-integer int8 would quantize the raw input features and the in-model normalisation "
                "with one int8 scale; use TFLite int8-dynamic, the QAT TFLite (compress --qat) or ONNX int8")
    if traits.recurrent and full_integer_tflite:
        return ("TFLite full-integer int8 of a recurrent layer: TensorFlow's calibrator crashes on its WHILE loop "
                "(tensorflow#75140); use TFLite int8-dynamic or ONNX int8")
    return None


def all_specs(sources: list[Source], traits: ModelTraits = ModelTraits()) -> list[ArtifactSpec]:
    """Every artifact the engine makes from the given source models (the excluded ones left out)."""
    return [s for s in every_spec(sources) if excluded(s, traits) is None]


def every_spec(sources: list[Source]) -> list[ArtifactSpec]:
    specs = []
    for source in sources:
        if source.is_qat:
            specs += [ArtifactSpec(Format.ONNX, Precision.INT8, source), ArtifactSpec(Format.TFLITE, Precision.INT8, source)]
            continue
        specs += [ArtifactSpec(Format.ONNX, p, source) for p in (Precision.FP32, Precision.FP16, Precision.INT8)]
        specs += [ArtifactSpec(Format.TFLITE, p, source) for p in (Precision.FP32, Precision.FP16, Precision.INT8_DYNAMIC, Precision.INT8)]
        specs.append(ArtifactSpec(Format.TFLITE, Precision.INT8, source, int8_io=True))
    return specs
