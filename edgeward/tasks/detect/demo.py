"""The detection task's demo: draw digit scenes (YOLO layout) and a video -> train the detector (short) ->
export (fp32 and int8 ONNX and TFLite) -> detect on the video -> benchmark."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from edgeward.core.config import at_least, check, option
from edgeward.core.task import DemoStep
from edgeward.tasks.demo_export import export_step


@dataclass(frozen=True)
class DetectDemo:
    images: int = option(1000, "training images (`make bench-detect` trains 6,000)")
    epochs: int = option(30, "training epochs")
    size: int = option(160, "input side, pixels (`make bench-detect` trains at 320; docs/decisions.md)")

    def __post_init__(self):
        at_least(self, 1, "images", "epochs")
        check(self, "size", isinstance(self.size, int) and self.size >= 32 and self.size % 16 == 0,
              "a whole number >= 32, a multiple of 16")

    @classmethod
    def quick(cls):
        """The quick demo's sizes (``make demo``): a short training that shows the flow, in about a minute."""
        return cls(images=200, epochs=6, size=96)


def steps(run: Path, config: DetectDemo, seed: int, max_drop: float, bench, full: bool = True) -> list[DemoStep]:
    from edgeward.export.bench import bench_run
    from edgeward.train.detect.config import DetectDataConfig, DetectorShape, DetectTrainConfig
    from edgeward.train.detect.data import generate_digits, write_video
    from edgeward.train.detect.training import train_detect

    data = run.parent / "detect-data"
    holdout = max(config.images // 10, 50)

    return [
        DemoStep("draw digit scenes (YOLO layout) and a video",
                 lambda: (generate_digits(data, DetectDataConfig(images=config.images, holdout=holdout, seed=seed),
                                          progress=True),
                          write_video(data / "video.mp4", data / "video.csv", seed=seed + 1)),
                 lambda r: f"{r[0]['splits']['train']['images']:,} training images with {r[0]['splits']['train']['objects']:,} "
                           f"digits; video {r[1]['frames']} frames"),
        DemoStep(f"train the detector (short: {config.size}x{config.size}, {config.epochs} epochs)",
                 lambda: train_detect(data, run, DetectTrainConfig(epochs=config.epochs, seed=seed, eval_every=10,
                                                                   shape=DetectorShape(size=config.size)), progress=True),
                 lambda r: f"held-out mAP@0.5 {r.metrics['model']['map50']:.3f}, mAP@0.5:0.95 "
                           f"{r.metrics['model']['map50_95']:.3f} ({r.params:,} parameters)"),
        export_step(run, max_drop, lambda c: f"mAP@0.5 {c.metric:.3f}", full),
        # a detector's single-image calls take milliseconds, not microseconds: fewer of them
        DemoStep("benchmark, and detect on the video",
                 lambda: bench_run(run, replace(bench, single_rows=min(300, bench.single_rows)), progress=True),
                 lambda b: "; ".join(f"{v['artifact']}: {v['fps']:.0f} FPS on 1 thread, video mAP@0.5 {v['video_map50']:.3f}"
                                     for v in b.payload.get("video", []))),
    ]
