"""A released commands model measured by the runtime on speech drawn afresh: accuracy on clips and the
recognizer over a long stream (every word at 5-30 dB), in espeak-ng's test voices (the voice split of the
recipe's seed: never heard in training) and, for the release, in festival's measured half (an engine no
model trains on). The quick check speaks espeak-ng only: fewer clips and a three-minute stream, whose
events it writes beside them."""

from __future__ import annotations

from pathlib import Path

from edgeward.core.manifest import Metric
from edgeward.core.task import RELEASE_RUNS, Recipe

# clips per label (per half) and stream minutes: the release's measurement (festival speaks ten times slower), the
# quick check's
RELEASE_CLIPS, RELEASE_MINUTES, FESTIVAL_CLIPS, FESTIVAL_MINUTES = 100, 120, 50, 30
CHECK_CLIPS, CHECK_MINUTES = 10, 3
EVENTS = "events.json"  # the quick check's stream events, in the work folder


def _engine_metrics(model: Path, folder: Path, commands: tuple[str, ...], engine, seed: int, voice_seed: int,
                    clips: int, minutes: float, prefix: str, events: Path | None) -> list[Metric]:
    from edgeward.tasks.commands.bench import bench_stream
    from edgeward.tasks.commands.heldout import clip_accuracy
    from edgeward.train.commands.config import CommandsDataConfig
    from edgeward.train.commands.data import generate_commands, write_stream

    generate_commands(folder, CommandsDataConfig(words=commands, per_class=clips, seed=seed, voice_seed=voice_seed,
                                                 engine=engine, eval_only=True, stream_minutes=0))
    write_stream(folder / "stream.wav", folder / "stream.csv", minutes=minutes, seed=seed, split="test",
                 voice_seed=voice_seed, commands=commands, engine=engine)
    accuracy = clip_accuracy(model, folder)
    stream = bench_stream(model, folder / "stream.wav", folder / "stream.csv", events)
    voices = f"{engine.value} {'test voices' if prefix == '' else 'measured half'}, drawn afresh (seed {seed})"
    return [Metric(f"{prefix}accuracy", round(accuracy["accuracy"], 4), f"{accuracy['clips']:,} clips, {voices}"),
            Metric(f"{prefix}stream_detected", round(stream["detection_rate"], 4),
                   f"{stream['commands']:,} commands in a {minutes:g}-minute stream at 5-30 dB, {voices}; "
                   f"{stream['false_alarms_per_hour']:.1f} false alarms per hour")]


def measure(model: Path, work: Path, seed: int, small: bool = False) -> list[Metric]:
    from edgeward.runtime.tasks.commands import NOT_COMMANDS
    from edgeward.runtime.engine.embedded import manifest_of
    from edgeward.train.commands.config import Engine

    manifest = manifest_of(model.read_bytes(), str(model))
    commands = tuple(label for label in manifest.labels if label not in NOT_COMMANDS)
    voice_seed = int((manifest.release or {}).get("seeds", {}).get("data_and_training", 0))
    metrics = _engine_metrics(model, work / "espeak-ng", commands, Engine.ESPEAK, seed, voice_seed,
                              CHECK_CLIPS if small else RELEASE_CLIPS, CHECK_MINUTES if small else RELEASE_MINUTES, "",
                              work / EVENTS if small else None)
    if not small:  # festival is a release's held-out engine (make install puts it there)
        metrics += _engine_metrics(model, work / "festival", commands, Engine.FESTIVAL, seed, voice_seed, FESTIVAL_CLIPS,
                                   FESTIVAL_MINUTES, "festival_", None)
    return metrics


def recipes() -> tuple[Recipe, ...]:
    """The task's released models (``make models``)."""
    data, run = str(RELEASE_RUNS / "commands-data"), str(RELEASE_RUNS / "commands")
    return (Recipe(
        "commands", "commands", "ten voice commands (yes, no, up, down, left, right, on, off, stop, go): DS-CNN on "
        "log-mel features, 16 kHz, int8",
        steps=(("data", "commands", data, "--per-class", "1000", "--stream-minutes", "0", "--val-stream-minutes", "180",
                "--seed", "0"),
               ("train", "commands", "--data", data, "--out", run, "--epochs", "60", "--filters", "80", "--seed", "0"),
               ("tune", "commands", run),
               ("compress", run, "--qat", "--qat-epochs", "6"),
               ("export", run, "--all", "--max-drop", "1")),  # as make bench-commands
        ship=("model-int8.onnx", "model-int8.tflite"), check_tolerance=0.15),)
