"""Object detection: a CenterNet-style detector, run on cameras, videos, streams and image folders by ``Detector``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeward.core.config import option
from edgeward.core.errors import InputError
from edgeward.core.manifest import TensorInfo
from edgeward.core.records import BenchRecord
from edgeward.core.rundir import RunDir, TrainingRecord, common_v0
from edgeward.core.task import ModelContract, TaskData, TaskSpec, Toy
from edgeward.runtime.tasks.detect import DetectorOptions
from edgeward.runtime.io.video import StreamOptions
from edgeward.tasks.detect import bench as own_bench
from edgeward.tasks.detect import demo as own_demo
from edgeward.tasks.detect import release as own_release
from edgeward.tasks.detect import section as own_section
from edgeward.tasks.detect.demo import DetectDemo
from edgeward.train.detect.config import DetectDataConfig, DetectPayload, DetectTrainConfig


@dataclass(frozen=True)
class DetectRun:
    """``edgeward run detect``: the detector's options, and what to do with the frames."""

    detector: DetectorOptions = option(factory=DetectorOptions)
    stream: StreamOptions = option(factory=StreamOptions)
    labels: str | None = option(None, "class names of a YOLOv5/YOLOv8 ONNX model made elsewhere, or of a Darknet model "
                                      "(txt, .names or data.yaml)")
    weights: str | None = option(None, "Darknet weights: the model is then a Darknet .cfg (the article's yolov3.cfg and "
                                       "yolov3.weights), its class names --labels")
    save: str | None = option(None, "write the annotated video here (.mp4)")
    show: bool = option(False, "show the annotated video (needs a GUI OpenCV)")


class DetectTask(TaskSpec):
    name, title = "detect", "Object detection (digits)"
    data_config, train_config, payload_type, demo_config = DetectDataConfig, DetectTrainConfig, DetectPayload, DetectDemo
    run_options = DetectRun
    data_help = "output folder (YOLO layout, data.yaml)"
    source_help = "a camera index, a video file, a URL or an image folder"
    compress_refusal = "pruning and quantization-aware training of detection models are not supported yet"
    # half size: faster, and a test checks that the size reaches the manifest
    toy = Toy(data=("--images", "24", "--holdout", "8", "--video-seconds", "1"),
              train=("--epochs", "2", "--batch-size", "8", "--size", "160", "--eval-every", "1"),
              exports=(("--format", "all", "--precision", "fp32,int8", "--max-drop", "100"),), check_input="video.mp4")

    # the task's own benchmark targets and tables, report section and demo steps
    targets, tables = staticmethod(own_bench.targets), staticmethod(own_bench.tables)
    section, demo = staticmethod(own_section.section), staticmethod(own_demo.steps)
    measure_release, recipes = staticmethod(own_release.measure), staticmethod(own_release.recipes)

    def generate(self, out: Path, config: DetectDataConfig, progress: bool = False) -> Iterator[str]:
        from edgeward.train.detect.data import UNSEEN_SPLIT, generate_digits, write_video
        from edgeward.train.detect.fonts import FONT_PACKAGES

        summary = generate_digits(out, config, progress=progress)
        parts = [f"{split} {n['images']} images / {n['objects']} digits" for split, n in summary["splits"].items()]
        yield f"wrote {', '.join(parts)} to {out} (YOLO layout, data.yaml)"
        families = summary["families"]
        yield (f"font families: {len(families['training'])} drawn in training, {len(families['unseen'])} only in "
               f"{UNSEEN_SPLIT} ({', '.join(families['unseen']) or 'none: install ' + ' '.join(FONT_PACKAGES)})")
        if config.video_seconds > 0:
            v = write_video(Path(out) / "video.mp4", Path(out) / "video.csv", seconds=config.video_seconds, seed=config.seed + 1)
            yield f"wrote {v['video']} ({v['frames']} frames) and its ground truth {v['csv']}"

    def train(self, data: Path, out: Path, config: DetectTrainConfig, progress: bool = False) -> TrainingRecord:
        from edgeward.train.detect.training import train_detect

        return train_detect(data, out, config, progress)

    def describe(self, record: TrainingRecord) -> list[str]:
        split, m = record.data.split, record.metrics["model"]
        unseen = (f"; in font families never drawn in training mAP@0.5 {m['unseen_fonts_map50']:.3f}"
                  if "unseen_fonts_map50" in m else "")
        return [f"trained on {split['train']:,} images, {record.epochs_run} epochs, {record.train_seconds} s; held-out "
                f"mAP@0.5 {m['map50']:.3f}, mAP@0.5:0.95 {m['map50_95']:.3f} ({split['test']:,} images){unseen}"]

    def splits(self, run: RunDir, record: TrainingRecord, train_sample: int | None = None) -> TaskData:
        from edgeward.train.detect.training import detect_splits

        return detect_splits(run, record, train_sample)

    def contract(self, run: RunDir, record: TrainingRecord) -> ModelContract:
        """Labels are image indices into the held-out ground truth; the metric decodes the raw head output
        the runtime's way and scores mAP@0.5; the decision is the set of classes found above the threshold."""
        from edgeward.runtime.tasks.detect_post import decode_centernet
        from edgeward.train.detect.model import INPUT_NAME
        from edgeward.train.detect.training import EVAL_IOU, EVAL_MAX, map_scorers

        shape, threshold = record.payload.detector_shape(), float(record.thresholds["score"])
        map50, map50_95 = map_scorers(np.load(run.holdout), shape.size)

        def decide(out):
            return np.array([" ".join(str(c) for c in sorted(decode_centernet(o, shape.size, threshold, EVAL_IOU, EVAL_MAX)[2].tolist()))
                             for o in np.asarray(out)])

        return ModelContract(
            inputs=(TensorInfo(INPUT_NAME, (None, shape.size, shape.size, 3), "float32", "NHWC", "RGB / 255, letterboxed on grey 114"),),
            output=TensorInfo("", (None, shape.grid, shape.grid, len(record.labels) + 4), "float32", "NHWC",
                              "class heatmaps, then left/top/right/bottom edge distances / input size"),
            labels=tuple(record.labels), thresholds={"score": threshold},
            params={"head": "centernet", "size": shape.size, "stride": shape.stride, "iou_threshold": EVAL_IOU},
            metric=map50, decide=decide, extra_metrics=lambda y, out: [("map50_95", map50_95(y, out))], max_calibration=100)

    def upgrade_record(self, raw: dict, source: str) -> dict:
        return {**common_v0(raw), "thresholds": {"score": raw["threshold"]},
                "payload": {"shape": raw["shape"], "images": raw["data"].get("images"), "per_class": raw["per_class"],
                            "threshold_rule": raw["threshold_rule"], "threshold_quality": raw["threshold_quality"],
                            "decoder": raw["decoder"]}}

    def live(self, model: str, source: str, options: DetectRun, device: str, threads: int | None, emit, note) -> None:
        from contextlib import nullcontext

        from edgeward.runtime.tasks.detect import Detector
        from edgeward.runtime.io.draw import annotate
        from edgeward.runtime.io.video import LatestFrames
        from edgeward.runtime.io.video_loop import VideoSink, detect_frames, show

        if options.weights and not options.labels:
            raise InputError("--weights: a Darknet model needs its class names too: --labels FILE (coco.names), got none")
        if options.weights:
            detector = Detector.from_darknet(model, options.weights, options.labels, device=device, threads=threads,
                                             options=options.detector)
        elif options.labels:
            detector = Detector.from_yolo(model, options.labels, device=device, threads=threads, options=options.detector)
        else:
            detector = Detector.from_file(model, device=device, threads=threads, options=options.detector)
        with detector, LatestFrames(int(source) if source.isdigit() else source, options=options.stream) as frames, \
                (VideoSink(options.save) if options.save else nullcontext()) as sink:
            for f in detect_frames(detector, frames.frames()):
                emit({"frame": f.number, "detections": [{"label": d.label, "score": round(d.score, 4),
                                                          "box": [round(v, 1) for v in d.box]} for d in f.detections],
                      "fps": round(f.fps, 1), **{k: round(v, 3) for k, v in f.timings.items()}})
                if sink or options.show:
                    drawn = annotate(f.frame, f.detections, f.fps)
                    if sink:
                        sink.write(drawn)
                    if options.show and not show(drawn):
                        break
        note(frames.summary())

    def result_text(self, result: dict) -> str:
        found = ", ".join(f"{d['label']} {d['score']:.2f}" for d in result["detections"]) or "nothing"
        return f"frame {result['frame']:6d}  {result['fps']:6.1f} FPS  {found}"

    def bench(self, run: RunDir, record: TrainingRecord, result: BenchRecord, options, runnable: set[str], tick) -> None:
        """The detector end to end on the data's video (fp32 and int8), where the data has one."""

        result.payload["params"] = record.params
        data = Path(record.data.path)
        if (data / "video.mp4").exists():
            result.payload["video"] = [own_bench.bench_video(run.artifact(name), data / "video.mp4", data / "video.csv",
                                           run / own_section.ANNOTATED_DIR if name == "model.onnx" else None)
                               for name in ("model.onnx", "model-int8.onnx", "model-int8.tflite")
                               if run.artifact(name).exists() and name.split(".")[-1] in runnable]
