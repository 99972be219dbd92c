"""Image classification: a CNN on class folders, run on images, folders, videos and cameras by ``Classifier``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeward.core.config import option
from edgeward.core.manifest import TensorInfo
from edgeward.core.records import BenchRecord
from edgeward.core.rundir import RunDir, TrainingRecord
from edgeward.core.task import ModelContract, TaskData, TaskSpec
from edgeward.runtime.tasks.classify import ClassifierOptions
from edgeward.runtime.io.video import StreamOptions
from edgeward.tasks.classify import bench as own_bench
from edgeward.tasks.classify import demo as own_demo
from edgeward.tasks.classify import section as own_section
from edgeward.tasks.classify.demo import ClassifyDemo
from edgeward.train.classify.config import ClassifyDataConfig, ClassifyPayload, ClassifyTrainConfig


@dataclass(frozen=True)
class ClassifyRun:
    """``edgeward run classify``: the classifier's options."""

    classifier: ClassifierOptions = option(factory=ClassifierOptions)
    stream: StreamOptions = option(factory=StreamOptions)


class ClassifyTask(TaskSpec):
    name, title = "classify", "Image classification"
    data_config, train_config, payload_type, demo_config = ClassifyDataConfig, ClassifyTrainConfig, ClassifyPayload, ClassifyDemo
    run_options = ClassifyRun
    data_help = "output folder (train/, val/, test/ of class folders)"
    source_help = "an image, an image folder, a video file, a URL or a camera index"

    # the task's own benchmark targets and tables, report section and demo steps
    targets, tables = staticmethod(own_bench.targets), staticmethod(own_bench.tables)
    section, demo = staticmethod(own_section.section), staticmethod(own_demo.steps)

    def generate(self, out: Path, config: ClassifyDataConfig, progress: bool = False) -> Iterator[str]:
        from edgeward.train.classify.data import generate_images

        s = generate_images(out, config, progress=progress)
        yield (f"wrote {', '.join(f'{split} {n:,}' for split, n in s['images'].items())} {s['size']}x{s['size']} images "
               f"of {len(s['classes'])} classes ({', '.join(s['classes'])}) to {out}")
        if "video" in s:
            yield f"wrote {s['video']['video']} ({s['video']['frames']} frames) and its ground truth {s['video']['csv']}"

    def train(self, data: Path, out: Path, config: ClassifyTrainConfig, progress: bool = False) -> TrainingRecord:
        from edgeward.train.classify.training import train_classify

        return train_classify(data, out, config, progress)

    def adopt(self, model, run: RunDir, options, progress: bool = False) -> TrainingRecord:
        from edgeward.train.classify.adopt import adopt_classifier

        return adopt_classifier(model, run, options, progress)

    def describe(self, record: TrainingRecord) -> list[str]:
        split, m, p = record.data.split, record.metrics["model"], record.payload
        lines = [f"skipped {len(p.skipped)} unreadable image(s): " + "; ".join(f"{path} ({why})" for path, why in p.skipped[:5])
                 + (" ..." if len(p.skipped) > 5 else "")] if p.skipped else []
        scores = f"top-1 {m['top1']:.2%}" + (f", top-5 {m['top5']:.2%}" if "top5" in m else "")
        if "auprc" in m:
            scores += f", AUPRC {m['auprc']:.4f}, ROC-AUC {m['roc_auc']:.4f} (threshold {record.thresholds['decision']:.3f})"
        how = f"adopted a classifier of {len(record.labels)} classes" if p.arch == "adopted" else \
            f"trained on {split['train']:,} images of {len(record.labels)} classes, {record.epochs_run} epochs, {record.train_seconds} s"
        return lines + [f"{how}; held-out {scores} ({split['test']:,} images)"]

    def splits(self, run: RunDir, record: TrainingRecord, train_sample: int | None = None) -> TaskData:
        from edgeward.train.classify.training import classify_splits

        return classify_splits(run, record, train_sample)

    def contract(self, run: RunDir, record: TrainingRecord) -> ModelContract:
        """Judged by top-1 (int8 by its drop); two-class models also by AUPRC, decided at their threshold."""
        from edgeward.train.classify.training import INPUT_NAME
        from edgeward.train.metrics import auprc, top1, top5

        p: ClassifyPayload = record.payload
        size, labels, threshold = p.preprocess["size"], tuple(record.labels), record.thresholds.get("decision")

        def decide(out):
            out = np.asarray(out)
            return out[:, 1] >= threshold if threshold is not None else out.argmax(axis=-1)

        def extra(y, out):
            return ([("top5", top5(y, out))] if len(labels) > 5 else []) + ([("auprc", auprc(y, out))] if len(labels) == 2 else [])

        return ModelContract(
            inputs=(TensorInfo(INPUT_NAME, (None, size, size, 3), "float32", "NHWC", "resized and scaled by params.preprocess"),),
            output=TensorInfo("", (None, len(labels)), "float32", "NC", "class probabilities"),
            labels=labels, thresholds=dict(record.thresholds),
            params={"preprocess": p.preprocess, "arch": p.arch, **({"positive": p.positive} if p.positive else {})},
            # calibration images: about 4 MB of input at most (onnxruntime keeps every intermediate tensor of each)
            metric=top1, decide=decide, extra_metrics=extra, max_calibration=max(100, min(1000, (4 << 20) // (size * size * 12))))

    def live(self, model: str, source: str, options: ClassifyRun, device: str, threads: int | None, emit, note) -> None:
        from edgeward.runtime.tasks.classify import Classifier
        from edgeward.runtime.io.video import LatestFrames

        counts: Counter = Counter()
        with Classifier.from_file(model, device=device, threads=threads, options=options.classifier) as clf, \
                LatestFrames(int(source) if source.isdigit() else source, options=options.stream) as frames:
            for number, frame in frames.frames():
                found = clf.classify(frame)
                counts[found[0].label] += 1
                image = frames.name(number)
                emit({"frame": number, **({"image": image} if image else {}),
                      "top": [{"label": f.label, "score": round(f.score, 4)} for f in found],
                      **{k: round(v, 3) for k, v in clf.timings.items()}})
        note(f"classified {sum(counts.values())} image(s): " + ", ".join(f"{k} {n}" for k, n in counts.most_common()))
        note(frames.summary())

    def result_text(self, result: dict) -> str:
        where = result.get("image") or f"frame {result['frame']}"
        return f"{where}: " + ", ".join(f"{t['label']} {t['score']:.2f}" for t in result["top"])

    def bench(self, run: RunDir, record: TrainingRecord, result: BenchRecord, options, runnable: set[str], tick) -> None:
        """The classifier end to end on the test images from disk and on the data's video (fp32 and int8)."""
        from edgeward.train.classify.data import class_folder_files

        c, data = record.config, Path(record.data.path)
        names, files = class_folder_files(data, c["val"], c["test"], c["seed"])
        test = [(path, names[k]) for path, k in files["test"]]
        result.payload.update(params=record.params, classes=len(record.labels), size=record.payload.preprocess["size"],
                              keras_metrics=record.metrics["model"], end_to_end=[])
        for name in ("model.onnx", "model-int8.onnx", "model-int8.tflite"):
            if not run.artifact(name).exists() or name.split(".")[-1] not in runnable:
                continue
            result.payload["end_to_end"].append(own_bench.bench_folder(run.artifact(name), test))
            if (data / "video.mp4").exists():
                result.payload["end_to_end"].append(own_bench.bench_video(run.artifact(name), data / "video.mp4", data / "video.csv"))
