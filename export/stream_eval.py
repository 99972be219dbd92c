"""Score a recognizer's events against a long recording's ground truth.

A command counts as detected when an event with its label ends within the word's span plus the
recognizer's latency allowance (``slack``); every other event is a false alarm (a command nobody
said, a wrong label, an unknown word taken for a command, or a duplicate). The score also says which
commands were missed and what each false alarm was heard in, so a user can see where a model fails.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True)
class StreamScore:
    commands: int
    detected: int
    false_alarms: int
    hours: float
    missed: dict[str, int] = field(default_factory=dict)  # command label -> words not detected
    false_alarm_causes: dict[str, int] = field(default_factory=dict)  # "off heard as up", "background heard as go", ...

    @property
    def detection_rate(self) -> float:
        return self.detected / self.commands if self.commands else 0.0

    @property
    def false_alarms_per_hour(self) -> float:
        return self.false_alarms / self.hours if self.hours else 0.0

    def as_dict(self) -> dict:
        return {"commands": self.commands, "detected": self.detected, "detection_rate": self.detection_rate,
                "false_alarms": self.false_alarms, "false_alarms_per_hour": self.false_alarms_per_hour,
                "hours": self.hours, "missed": self.missed, "false_alarm_causes": self.false_alarm_causes}


def read_truth(path: str | os.PathLike) -> list[tuple[float, float, str]]:
    with open(path, newline="") as f:
        return [(float(r["start"]), float(r["end"]), r["label"]) for r in csv.DictReader(f)]


def score_events(events, truth: list[tuple[float, float, str]], seconds: float, slack: float = 1.5,
                 not_commands: tuple[str, ...] = ("_unknown_", "_silence_")) -> StreamScore:
    commands = [(s, e, label) for s, e, label in truth if label not in not_commands]
    used, detected, causes = set(), 0, Counter()
    for event in events:
        match = next((i for i, (s, e, label) in enumerate(commands)
                      if i not in used and label == event.label and s <= event.end <= e + slack), None)
        if match is None:
            causes[_cause(event, truth, commands, used, slack)] += 1
        else:
            used.add(match)
            detected += 1
    missed = Counter(label for i, (_, _, label) in enumerate(commands) if i not in used)
    return StreamScore(len(commands), detected, sum(causes.values()), seconds / 3600.0, dict(sorted(missed.items())),
                       dict(causes.most_common()))


def _cause(event, truth, commands, used, slack: float) -> str:
    """What a false alarm was heard in: the word whose span (plus slack) holds the event's end, if any."""
    said = [(s, e, label) for s, e, label in truth if s <= event.end <= e + slack]
    if not said:
        return f"background heard as {event.label}"
    if any(commands[i][2] == event.label and commands[i][0] <= event.end <= commands[i][1] + slack for i in used):
        return f"{event.label} heard twice"
    return f"{said[-1][2]} heard as {event.label}"


def counts_text(counts: dict[str, int]) -> str:
    """{"up": 3, "go": 1} -> "up 3, go 1" (largest first)."""
    return ", ".join(f"{k} {n}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1])) or "none"
