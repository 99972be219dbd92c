"""A commands model measured on held-out data: a ``data commands --eval-only`` folder (festival's voices, which
no model trains on). Only its test half is measured: clip accuracy, and the recognizer over its stream."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeward.core.errors import InputError


def clip_accuracy(artifact: Path, folder: Path) -> dict:
    """The model's accuracy on the folder's test clips, and per label (correct, clips)."""
    from edgeward.runtime.tasks.commands import CommandRecognizer
    from edgeward.train.commands.data import load_clips

    with CommandRecognizer.from_file(artifact, threads=1) as rec:
        audio, y = load_clips(folder, rec.front_end, tuple(rec.labels))["test"]
        if not len(y):
            raise InputError(f"{folder}: no test clips (testing_list.txt) to measure")
        predicted = np.array([rec.labels.index(rec.classify(clip)[0]) for clip in audio])
    per_label = {label: [int(((predicted == k) & (y == k)).sum()), int((y == k).sum())] for k, label in enumerate(rec.labels)}
    return {"artifact": artifact.name, "clips": int(len(y)), "accuracy": float((predicted == y).mean()),
            "per_label": {k: v for k, v in per_label.items() if v[1]}}


def check_commands(folder: Path, labels: tuple[str, ...]) -> None:
    """The folder says the model's commands, or a one-line error naming both."""
    from edgeward.runtime.tasks.commands import NOT_COMMANDS
    from edgeward.train.commands.vocabulary import read_commands

    said, known = read_commands(folder), tuple(label for label in labels if label not in NOT_COMMANDS)
    if said != known:
        raise InputError(f"{folder}: expected the model's commands ({', '.join(known)}), got {', '.join(said)}")


def measure(artifacts: list[Path], folder: Path) -> dict:
    """Clip accuracy of each artifact, and the first one over the folder's test stream where it has one."""
    from edgeward.runtime.engine.embedded import manifest_of
    from edgeward.tasks.commands.bench import bench_stream
    from edgeward.train.commands.data import stream_files

    if not folder.is_dir():
        raise InputError(f"{folder}: expected a folder written by `edgeward data commands --eval-only`, got none")
    for a in artifacts:
        check_commands(folder, tuple(manifest_of(a.read_bytes(), str(a)).labels))
    out = {"folder": str(folder), "clips": [clip_accuracy(a, folder) for a in artifacts]}
    wav, csv = stream_files(folder, "test")
    if wav.exists() and artifacts:
        out["stream"] = bench_stream(artifacts[0], wav, csv)
    return out
