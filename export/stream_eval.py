"""Score a recognizer's events against a long recording's ground truth.

A command counts as detected when an event with its label ends within the word's span plus the
recognizer's latency allowance (``slack``); every other event is a false alarm (a command nobody
said, a wrong label, an unknown word taken for a command, or a duplicate).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class StreamScore:
    commands: int
    detected: int
    false_alarms: int
    hours: float

    @property
    def detection_rate(self) -> float:
        return self.detected / self.commands if self.commands else 0.0

    @property
    def false_alarms_per_hour(self) -> float:
        return self.false_alarms / self.hours if self.hours else 0.0

    def as_dict(self) -> dict:
        return {"commands": self.commands, "detected": self.detected, "detection_rate": self.detection_rate,
                "false_alarms": self.false_alarms, "false_alarms_per_hour": self.false_alarms_per_hour,
                "hours": self.hours}


def read_truth(path: str | os.PathLike) -> list[tuple[float, float, str]]:
    with open(path, newline="") as f:
        return [(float(r["start"]), float(r["end"]), r["label"]) for r in csv.DictReader(f)]


def score_events(events, truth: list[tuple[float, float, str]], seconds: float, slack: float = 1.5,
                 not_commands: tuple[str, ...] = ("_unknown_", "_silence_")) -> StreamScore:
    commands = [(s, e, label) for s, e, label in truth if label not in not_commands]
    used, detected, false_alarms = set(), 0, 0
    for event in events:
        match = next((i for i, (s, e, label) in enumerate(commands)
                      if i not in used and label == event.label and s <= event.end <= e + slack), None)
        if match is None:
            false_alarms += 1
        else:
            used.add(match)
            detected += 1
    return StreamScore(len(commands), detected, false_alarms, seconds / 3600.0)
