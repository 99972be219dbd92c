"""The classification task's demo: draw 10 shapes at 32x32 (class folders) and a video -> train the small CNN ->
export (fp32 and int8 ONNX and TFLite) -> classify the test images and the video -> benchmark."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgeward.core.config import at_least, option
from edgeward.core.task import DemoStep
from edgeward.tasks.demo_export import export_step


@dataclass(frozen=True)
class ClassifyDemo:
    per_class: int = option(300, "training images per class (`make bench-classify` draws 1,000)")
    epochs: int = option(15, "training epochs (`make bench-classify` trains 20; docs/decisions.md)")

    def __post_init__(self):
        at_least(self, 1, "per_class", "epochs")

    @classmethod
    def quick(cls):
        """The quick demo's sizes (``make demo``): a short training that shows the flow, in about a minute."""
        return cls(per_class=40, epochs=3)


def steps(run: Path, config: ClassifyDemo, seed: int, max_drop: float, bench, full: bool = True) -> list[DemoStep]:
    from edgeward.export.bench import bench_run
    from edgeward.train.classify.config import ClassifyDataConfig, ClassifyTrainConfig
    from edgeward.train.classify.data import generate_images
    from edgeward.train.classify.training import train_classify

    data = run.parent / "classify-data"

    return [
        DemoStep("draw shapes (class folders) and a video",
                 lambda: generate_images(data, ClassifyDataConfig(per_class=config.per_class, holdout=max(config.per_class // 5, 20),
                                                                  seed=seed), progress=True),
                 lambda s: f"{s['images']['train']:,} training images of {len(s['classes'])} classes at {s['size']}x{s['size']}; "
                           f"video {s['video']['frames']} frames"),
        DemoStep(f"train the small CNN ({config.epochs} epochs)",
                 lambda: train_classify(data, run, ClassifyTrainConfig(epochs=config.epochs, seed=seed), progress=True),
                 lambda r: f"held-out top-1 {r.metrics['model']['top1']:.2%}, top-5 {r.metrics['model']['top5']:.2%} "
                           f"({r.params:,} parameters)"),
        export_step(run, max_drop, lambda c: f"top-1 {c.metric:.2%}", full),
        DemoStep("benchmark, and classify the test images and the video", lambda: bench_run(run, bench, progress=True),
                 lambda b: "; ".join(f"{e['artifact']} on the {e['source']}: {e['images_per_s']:,.0f} images/s on 1 thread, "
                                     f"top-1 {e['top1']:.1%}" for e in b.payload.get("end_to_end", []))),
    ]
