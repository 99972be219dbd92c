"""Score a recognizer's events against a long recording's ground truth.

A command counts as detected when an event with its label ends within the word's span plus the
recognizer's latency allowance (``slack``); every other event is a false alarm (a command nobody
said, a wrong label, an unknown word taken for a command, or a duplicate). The score also says which
commands were missed, what each false alarm was heard in and, where the ground truth names the
background each word was said over and its signal-to-noise ratio, how many commands were detected over
each background and in each SNR band, so a user can see where a model fails.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

from edgeward.core.errors import InputError


class Word(NamedTuple):
    """One row of a stream's ground truth: a word said from ``start`` to ``end`` (seconds)."""
    start: float
    end: float
    label: str
    background: str = ""  # the noise it was said over, where the ground truth names it
    snr_db: float | None = None  # the word's level over the background's, where the ground truth gives it


SNR_EDGES = (0.0, 5.0, 10.0, 20.0)  # dB: the edges of the bands detection is counted in
SNR_BANDS = (f"below {SNR_EDGES[0]:g} dB", *(f"{a:g}-{b:g} dB" for a, b in zip(SNR_EDGES, SNR_EDGES[1:])),
             f"{SNR_EDGES[-1]:g} dB and above")


@dataclass(frozen=True)
class StreamScore:
    commands: int
    detected: int
    false_alarms: int
    hours: float
    missed: dict[str, int] = field(default_factory=dict)  # command label -> words not detected
    false_alarm_causes: dict[str, int] = field(default_factory=dict)  # "off heard as up", "background heard as go", ...
    by_background: dict[str, list[int]] = field(default_factory=dict)  # "babble" -> [detected, commands]
    by_snr: dict[str, list[int]] = field(default_factory=dict)  # "0-5 dB" -> [detected, commands], low to high

    @property
    def detection_rate(self) -> float:
        return self.detected / self.commands if self.commands else 0.0

    @property
    def false_alarms_per_hour(self) -> float:
        return self.false_alarms / self.hours if self.hours else 0.0

    def as_dict(self) -> dict:
        return {"commands": self.commands, "detected": self.detected, "detection_rate": self.detection_rate,
                "false_alarms": self.false_alarms, "false_alarms_per_hour": self.false_alarms_per_hour,
                "hours": self.hours, "missed": self.missed, "false_alarm_causes": self.false_alarm_causes,
                "by_background": self.by_background, "by_snr": self.by_snr}


def read_truth(path: str | os.PathLike) -> list[Word]:
    """``start,end,label[,background[,snr_db]]`` rows; a missing column or a value that is not a number is
    an error naming the file, line and field."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in ("start", "end", "label") if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{path}: expected columns start,end,label[,background,snr_db], got {reader.fieldnames}")
        return [Word(_number(path, reader.line_num, r, "start"), _number(path, reader.line_num, r, "end"), r["label"],
                     r.get("background") or "", _number(path, reader.line_num, r, "snr_db") if r.get("snr_db") else None)
                for r in reader]


def _number(path, line: int, row: dict, field_name: str) -> float:
    try:
        return float(row[field_name])
    except (TypeError, ValueError):
        raise InputError(f"{path}: line {line}: field '{field_name}': expected a number, got {row[field_name]!r}") from None


def snr_band(snr_db: float) -> str:
    """The band of ``SNR_BANDS`` a word's SNR falls in: "below 0 dB", "0-5 dB", ..., "20 dB and above"."""
    return SNR_BANDS[sum(snr_db >= edge for edge in SNR_EDGES)]


def score_events(events, truth: list[Word | tuple], seconds: float, slack: float = 1.5,
                 not_commands: tuple[str, ...] = ("_unknown_", "_silence_")) -> StreamScore:
    truth = [Word(*row) for row in truth]
    commands = [w for w in truth if w.label not in not_commands]
    used, detected, causes = set(), 0, Counter()
    for event in events:
        match = next((i for i, (s, e, label, *_) in enumerate(commands)
                      if i not in used and label == event.label and s <= event.end <= e + slack), None)
        if match is None:
            causes[_cause(event, truth, commands, used, slack)] += 1
        else:
            used.add(match)
            detected += 1
    missed = Counter(w.label for i, w in enumerate(commands) if i not in used)
    by_background: dict[str, list[int]] = {}
    by_snr: dict[str, list[int]] = {}
    for i, w in enumerate(commands):
        for table, key in ((by_background, w.background), (by_snr, None if w.snr_db is None else snr_band(w.snr_db))):
            if key:
                counts = table.setdefault(key, [0, 0])
                counts[0] += i in used
                counts[1] += 1
    return StreamScore(len(commands), detected, sum(causes.values()), seconds / 3600.0, dict(sorted(missed.items())),
                       dict(causes.most_common()), dict(sorted(by_background.items())),
                       {band: by_snr[band] for band in SNR_BANDS if band in by_snr})


def _cause(event, truth, commands, used, slack: float) -> str:
    """What a false alarm was heard in: the word whose span (plus slack) holds the event's end, if any."""
    said = [w for w in truth if w.start <= event.end <= w.end + slack]
    if not said:
        return f"background heard as {event.label}"
    if any(commands[i].label == event.label and commands[i].start <= event.end <= commands[i].end + slack for i in used):
        return f"{event.label} heard twice"
    return f"{said[-1].label} heard as {event.label}"


def counts_text(counts: dict[str, int]) -> str:
    """{"up": 3, "go": 1} -> "up 3, go 1" (largest first)."""
    return ", ".join(f"{k} {n}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1])) or "none"


def background_text(by_background: dict[str, list[int]]) -> str:
    """{"babble": [111, 142], ...} -> "babble 78% of 142, ..." (worst first)."""
    return _shares_text(sorted(by_background.items(), key=lambda kv: kv[1][0] / kv[1][1]))  # every kind holds a command


def snr_text(by_snr: dict[str, list[int]]) -> str:
    """{"below 0 dB": [19, 29], "0-5 dB": [84, 105], ...} -> "below 0 dB 66% of 29, 0-5 dB 80% of 105, ..."
    (low to high)."""
    return _shares_text(by_snr.items())


def _shares_text(rows) -> str:
    return ", ".join(f"{k} {d / n:.0%} of {n}" for k, (d, n) in rows) or "not in the ground truth"
