"""Choose the commands model's stream thresholds on the validation stream (validation voices only), into
the run's ``tuning.json``, which export embeds in the manifest.

Thresholds from clips (at most 0.2% of other validation clips reach a label's threshold) do not see what
a stream does: one word crossing several overlapping windows, words cut at window edges, long noise. Here
a common floor is raised step by step: the chosen floor is the one with the most commands detected on
the validation stream among those within the false-alarm budget (the lowest false-alarm rate if none is).
The model runs over the stream once; each floor's events are decided again from the saved posteriors
(``CommandRecognizer.decide``), which gives exactly the events of a streaming run. The test stream is never used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeward.core.config import check, option
from edgeward.core.errors import InputError
from edgeward.export.artifacts import ArtifactSpec, Format, Precision, Source
from edgeward.tasks.commands.stream_score import read_truth, score_events

FLOORS = tuple(np.round(np.arange(0.5, 0.96, 0.05), 2))


@dataclass(frozen=True)
class TuneOptions:
    max_false_alarms: float = option(2.0, "false alarms per hour allowed on the validation stream")
    data: str | None = option(None, "the folder whose validation stream to tune on (default: the training data; a "
                                    "festival --eval-only folder's is its choosing half)")

    def __post_init__(self):
        check(self, "max_false_alarms", self.max_false_alarms >= 0, "a number >= 0")


def tune_thresholds(run_dir: str | os.PathLike, options: TuneOptions = TuneOptions()) -> dict:
    from edgeward.export.engine import RunData, embed, file_outputs
    from edgeward.runtime.io.audio_sources import WavSource
    from edgeward.runtime.tasks.commands import CommandRecognizer, RecognizerOptions
    from edgeward.runtime.engine.model import Model
    from edgeward.train.commands.data import stream_files

    run = RunData(run_dir)
    record = run.record
    if record.task != "commands":
        raise InputError(f"{run.dir}: expected a commands run, got task {record.task!r}")
    if options.data:
        from edgeward.tasks.commands.heldout import check_commands

        check_commands(Path(options.data), tuple(record.labels))
    wav, csv = stream_files(options.data or record.data.path, "val")
    if not wav.exists():
        raise InputError(f"{wav}: not found; `edgeward data commands` writes it (--stream-minutes above 0)")
    max_false_alarms_per_hour = options.max_false_alarms
    clip_thresholds = record.thresholds
    spec = ArtifactSpec(Format.ONNX, Precision.FP32, Source.BASE)
    raw = run.onnx_fp32(Source.BASE)
    data_bytes = embed(spec, raw, run.manifest(spec, file_outputs(spec, raw, run.output_names(Source.BASE)), ()))
    source, truth = WavSource(wav), read_truth(csv)
    seconds = len(source.samples) / source.rate
    tried = []
    with Model(data_bytes, threads=1) as model:
        windows = _posteriors(model, source)  # the model runs once; each floor decides anew
        for floor in FLOORS:
            thresholds = {label: max(float(v), float(floor)) for label, v in clip_thresholds.items()}
            recognizer = CommandRecognizer(model, RecognizerOptions(thresholds=thresholds))
            events = [e for e in (recognizer.decide(probs, now) for probs, now in windows) if e is not None]
            score = score_events(events, truth, seconds)
            tried.append({"floor": float(floor), "thresholds": thresholds, **score.as_dict()})
    within = [t for t in tried if t["false_alarms_per_hour"] <= max_false_alarms_per_hour]
    if within:
        best = max(within, key=lambda t: (t["detection_rate"], -t["floor"]))
        reason = (f"{best['detection_rate']:.1%} detected, {best['false_alarms_per_hour']:.1f} false alarms per hour "
                  f"(budget {max_false_alarms_per_hour:g})")
    else:
        best = min(tried, key=lambda t: (t["false_alarms_per_hour"], -t["detection_rate"]))
        reason = (f"no floor is within {max_false_alarms_per_hour:g} false alarms per hour; the fewest: "
                  f"{best['false_alarms_per_hour']:.1f} per hour at {best['detection_rate']:.1%} detected")
    rows = [{k: v for k, v in t.items() if k != "thresholds"} for t in tried]
    run.rundir.write_json(run.rundir.tuning_file, {
        "thresholds": best["thresholds"], "stream": str(wav), "floor": best["floor"], "reason": reason,
        "max_false_alarms_per_hour": max_false_alarms_per_hour, "tried": rows})
    return {"floor": best["floor"], "reason": reason, "tried": rows, "chosen": rows[tried.index(best)]}


def _posteriors(model, source) -> list[tuple]:
    """(class probabilities, seconds) of every window the recognizer sees in ``source``, in order."""
    from edgeward.runtime.tasks.commands import CommandRecognizer

    class Recording(CommandRecognizer):
        def decide(self, probs, now):
            seen.append((probs, now))
            return super().decide(probs, now)

    seen: list[tuple] = []
    for _ in Recording(model).stream(source):
        pass
    return seen
