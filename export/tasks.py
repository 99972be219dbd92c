"""What the export engine needs to know about each task: input name, metric, decision, manifest.

One adapter per task, built from the run's ``train.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeward.errors import InputError
from edgeward.export.artifacts import ArtifactSpec
from edgeward.export.provenance import provenance
from edgeward.manifest import Manifest, Metric, Task, TensorInfo
from edgeward.train.task_data import accuracy, auprc


@dataclass(frozen=True)
class TaskAdapter:
    task: Task
    input_name: str
    metric: Callable[[np.ndarray, np.ndarray], float]  # (labels, outputs) -> higher is better; its __name__ names it
    decide: Callable[[np.ndarray], np.ndarray]  # outputs -> decisions, for the agreement check
    extra_metrics: Callable[[np.ndarray, np.ndarray], list[tuple[str, float]]]
    manifest: Callable[[ArtifactSpec, str, tuple[Metric, ...]], Manifest]
    # calibration samples: at most this many (onnxruntime's calibrators keep every intermediate tensor
    # of every sample in memory, which is large for images)
    max_calibration: int | None = None


def adapter_for(report: dict, run: Path) -> TaskAdapter:
    task = report.get("task")
    if task == Task.FRAUD.value:
        return _fraud(report, run)
    if task == Task.COMMANDS.value:
        return _commands(report, run)
    if task == Task.DETECT.value:
        return _detect(report, run)
    raise InputError(f"{run}: no exporter for task {task!r}; expected 'fraud', 'commands' or 'detect'")


def _metrics_or_keras(report: dict, metrics: tuple[Metric, ...], rows: int) -> tuple[Metric, ...]:
    return metrics or tuple(Metric(k, round(v, 6), f"keras, held-out split ({rows} rows)")
                            for k, v in report["metrics"]["model"].items())


def _fraud(report: dict, run: Path) -> TaskAdapter:
    threshold = float(report["threshold"])
    split = report["data"]["split"]
    n = len(report["features"])

    def extra(y, out):
        from sklearn.metrics import roc_auc_score

        return [("roc_auc", float(roc_auc_score(y, out.reshape(-1))))]

    def manifest(spec: ArtifactSpec, output_name: str, metrics: tuple[Metric, ...]) -> Manifest:
        return Manifest(
            task=Task.FRAUD, format=spec.format.value, precision=spec.precision.value,
            inputs=(TensorInfo("features", (None, n), "float32", "NF", "inside-model"),),
            outputs=(TensorInfo(output_name, (None, 1), "float32", "N1", "probability of fraud"),),
            labels=("legit", "fraud"), features=tuple(report["features"]), thresholds={"decision": threshold},
            metrics=_metrics_or_keras(report, metrics, split["test"]),
            provenance=provenance(run / spec.source.file, report["data"]["sha256"]),
            params={"label": report["data"]["label"], "threshold_rule": "max F1 on the validation split",
                    "source": spec.source.value, "method": spec.describe()},
        )

    return TaskAdapter(Task.FRAUD, "features", auprc, lambda p: np.asarray(p).reshape(-1) >= threshold, extra, manifest)


def _commands(report: dict, run: Path) -> TaskAdapter:
    labels = tuple(report["labels"])
    fe = report["front_end"]
    frames = 1 + (int(round(fe["sample_rate"] * fe["clip_seconds"])) - int(round(fe["sample_rate"] * fe["frame_ms"] / 1000))) \
        // int(round(fe["sample_rate"] * fe["hop_ms"] / 1000))

    def manifest(spec: ArtifactSpec, output_name: str, metrics: tuple[Metric, ...]) -> Manifest:
        return Manifest(
            task=Task.COMMANDS, format=spec.format.value, precision=spec.precision.value,
            inputs=(TensorInfo("logmel", (None, frames, fe["n_mels"], 1), "float32", "NHWC",
                               "log-mel by params.front_end, normalised with its mean and std"),),
            outputs=(TensorInfo(output_name, (None, len(labels)), "float32", "NC", "class probabilities"),),
            labels=labels, features=(), thresholds=dict(report["thresholds"]),
            metrics=_metrics_or_keras(report, metrics, report["data"]["split"]["test"]),
            provenance=provenance(run / spec.source.file, report["data"]["sha256"]),
            params={"front_end": fe, "source": spec.source.value, "method": spec.describe(),
                    "threshold_rule": "per label: at most 0.2% of other validation clips reach it" + (
                        f"; floor {report['threshold_tuning']['floor']} chosen on the validation stream"
                        if "threshold_tuning" in report else "")},
        )

    return TaskAdapter(Task.COMMANDS, "logmel", accuracy, lambda p: np.asarray(p).argmax(axis=-1), lambda y, out: [],
                       manifest)


def _detect(report: dict, run: Path) -> TaskAdapter:
    """Labels are image indices into the held-out ground truth; the metric decodes the raw head output
    the runtime's way and scores mAP@0.5; the decision is the set of classes found above the threshold."""
    from edgeward.runtime.detect_post import decode_centernet
    from edgeward.train.detect import EVAL_IOU, EVAL_MAX, map_scorers

    labels, shape, threshold = tuple(report["labels"]), report["shape"], float(report["threshold"])
    size, grid = int(shape["size"]), int(shape["size"]) // int(shape["stride"])
    holdout = np.load(run / "holdout.npz")
    map50, map50_95 = map_scorers(holdout, size)

    def decide(out):
        return np.array([" ".join(str(c) for c in sorted(decode_centernet(o, size, threshold, EVAL_IOU, EVAL_MAX)[2].tolist()))
                         for o in np.asarray(out)])

    def manifest(spec: ArtifactSpec, output_name: str, metrics: tuple[Metric, ...]) -> Manifest:
        return Manifest(
            task=Task.DETECT, format=spec.format.value, precision=spec.precision.value,
            inputs=(TensorInfo("image", (None, size, size, 3), "float32", "NHWC", "RGB / 255, letterboxed on grey 114"),),
            outputs=(TensorInfo(output_name, (None, grid, grid, len(labels) + 4), "float32", "NHWC",
                                "class heatmaps, then left/top/right/bottom edge distances / input size"),),
            labels=labels, features=(), thresholds={"score": threshold},
            metrics=_metrics_or_keras(report, metrics, report["data"]["split"]["test"]),
            provenance=provenance(run / spec.source.file, report["data"]["sha256"]),
            params={"head": "centernet", "size": size, "stride": int(shape["stride"]), "iou_threshold": EVAL_IOU,
                    "source": spec.source.value, "method": spec.describe()},
        )

    return TaskAdapter(Task.DETECT, "image", map50, decide, lambda y, out: [("map50_95", map50_95(y, out))], manifest,
                       max_calibration=100)
