"""The voice-commands task's demo: speak commands (espeak-ng) and a long stream -> train the DS-CNN ->
choose stream thresholds on the validation stream -> export (fp32 and int8 ONNX and TFLite) -> recognise
the long stream -> benchmark."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgeward.core.config import at_least, option
from edgeward.core.task import DemoStep
from edgeward.tasks.demo_export import export_step


@dataclass(frozen=True)
class CommandsDemo:
    per_class: int = option(250, "training clips per label (fewer than `edgeward data commands`, to stay short)")
    epochs: int = option(20, "training epochs (docs/decisions.md: the demo's time)")
    stream_minutes: float = option(10.0, "minutes of the test stream, and of the validation stream")

    def __post_init__(self):
        at_least(self, 1, "per_class", "epochs")
        at_least(self, 0, "stream_minutes")

    @classmethod
    def quick(cls):
        """The quick demo's sizes (``make demo``): a short training that shows the flow, in about a minute."""
        return cls(per_class=30, epochs=4, stream_minutes=1.0)


def steps(run: Path, config: CommandsDemo, seed: int, max_drop: float, bench, full: bool = True) -> list[DemoStep]:
    from edgeward.export.bench import bench_run
    from edgeward.tasks.commands.tune import tune_thresholds
    from edgeward.train.commands.config import CommandsDataConfig, CommandsTrainConfig
    from edgeward.train.commands.data import generate_commands, write_streams
    from edgeward.train.commands.training import train_commands

    data = run.parent / "commands-data"
    return [
        DemoStep("speak commands (espeak-ng) and write a long stream",
                 lambda: (generate_commands(data, CommandsDataConfig(per_class=config.per_class, seed=seed), progress=True),
                          write_streams(data, seed, {"test": config.stream_minutes, "val": config.stream_minutes},
                                        progress=True)),
                 lambda r: f"{r[0]['clips']:,} clips, {r[0]['voices']['train']} training voices; stream "
                           f"{r[1][0]['seconds'] / 60:.0f} min with {r[1][0]['commands']} commands"),
        DemoStep("train DS-CNN, then choose stream thresholds on the validation stream",
                 lambda: (train_commands(data, run, CommandsTrainConfig(epochs=config.epochs, seed=seed), progress=True),
                          tune_thresholds(run)),
                 lambda r: f"accuracy on held-out voices {r[0].metrics['model']['accuracy']:.2%} ({r[0].params:,} "
                           f"parameters); threshold floor {r[1]['floor']:.2f}"),
        export_step(run, max_drop, lambda c: f"{c.metric:.2%}", full),
        DemoStep("benchmark, and recognise the long stream", lambda: bench_run(run, bench, progress=True),
                 lambda b: "; ".join(f"{s['artifact']}: {s['detection_rate']:.1%} of commands, {s['false_alarms_per_hour']:.1f} "
                                     f"false alarms/h, real-time factor {s['real_time_factor']:.4f}" for s in b.payload.get("streams", []))),
    ]
