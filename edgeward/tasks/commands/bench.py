"""The commands task's own measurements: the long stream (detections, false alarms per hour) and the
real-time factor of the whole recognizer (resampling, features and inference) on one thread; its targets
and tables."""

from __future__ import annotations

import json
import time
from pathlib import Path

from edgeward.core.records import BenchRecord, ValidationRecord
from edgeward.tasks.commands.stream_score import background_text, counts_text, read_truth, score_events, snr_text


def bench_stream(artifact: Path, wav: Path, truth_csv: Path, events_out: Path | None = None) -> dict:
    """Run the recognizer over the whole recording; ``events_out``: also write the events (JSON) for the report."""
    from edgeward.runtime.io.audio_sources import WavSource
    from edgeward.runtime.tasks.commands import CommandRecognizer

    source = WavSource(wav, block_seconds=0.1)
    seconds = len(source.samples) / source.rate
    with CommandRecognizer.from_file(artifact, threads=1) as rec:
        events, busy = [], 0.0
        for block, rate in source:
            started = time.perf_counter()
            events += rec.accept(block, rate)
            busy += time.perf_counter() - started
        windows = rec.windows
    score = score_events(events, read_truth(truth_csv), seconds)
    if events_out is not None:
        summary = (f"{artifact.name}: {score.detected} of {score.commands} commands detected ({score.detection_rate:.1%}), "
                   f"{score.false_alarms} false alarms in {seconds / 60:.1f} min ({score.false_alarms_per_hour:.1f} per hour). "
                   f"Missed: {counts_text(score.missed)}. False alarms: {counts_text(score.false_alarm_causes)}. "
                   f"Detected by background: {background_text(score.by_background)}; "
                   f"by SNR: {snr_text(score.by_snr)}.")
        events_out.write_text(json.dumps({"artifact": artifact.name, "truth": str(truth_csv), "summary": summary,
                                          "events": [e.__dict__ for e in events]}, indent=1))
    return {"artifact": artifact.name, **score.as_dict(), "audio_seconds": seconds, "windows": windows,
            "real_time_factor": busy / seconds, "ms_per_window": busy / max(windows, 1) * 1000}


# the two size budgets (int8 bytes) and the share of the target stream's commands each must detect at <= 2
# false alarms an hour: small as microcontrollers with little flash run, large as DS-CNN-M/L class models
BUDGETS = (("small", 64 * 1024, 0.92), ("large", 256 * 1024, 0.95))


def budget(size_bytes: int) -> tuple[str, int, float]:
    """The smallest budget an int8 model of ``size_bytes`` fits (the large one where it fits none)."""
    return next((b for b in BUDGETS if size_bytes <= b[1]), BUDGETS[-1])


def targets(r: BenchRecord, validation: ValidationRecord) -> list[tuple]:
    rows = []
    checks = validation.by_name()
    if "model.onnx" in checks:
        acc = checks["model.onnx"].metric
        rows.append(("accuracy on held-out voices (fp32)", f"{acc:.2%}", ">= 95%", acc >= 0.95))
    # int8 files within budget; and those whose check was degenerate: their size is their size, their drop means nothing
    int8 = [c for c in checks.values() if c.precision == "int8" and c.usable]
    size_budget, limit, detect = BUDGETS[-1]
    if int8:
        best = min(int8, key=lambda c: c.size_bytes)
        size_budget, limit, detect = budget(best.size_bytes)
        rows.append((f"int8 model size (smallest; budget {size_budget})", f"{best.size_bytes / 1024:.1f} KB ({best.artifact})",
                     f"<= {limit // 1024} KB", best.size_bytes <= limit))
        worst = max(int8, key=lambda c: c.drop_points)
        rows.append(("int8 accuracy drop (worst)", f"{worst.drop_points:+.2f} points ({worst.artifact})" +
                     (" (degenerate check)" if worst.degenerate else ""), "<= 1 point",
                     None if worst.degenerate else worst.drop_points <= 1.0))
    for name in ("model.onnx", "model-int8.onnx"):
        if r.row(name):
            p50 = r.row(name)["single_1t"]["p50_us"] / 1000
            rows.append((f"inference per window, 1 thread ({name})", f"{p50:.2f} ms", "<= 1 ms", p50 <= 1.0))
    for s in r.payload.get("streams", []):
        rows.append((f"real-time factor, features + inference ({s['artifact']})", f"{s['real_time_factor']:.4f}", "<= 0.02",
                     s["real_time_factor"] <= 0.02))
        rows.append((f"stream: commands detected ({s['artifact']}; budget {size_budget})",
                     f"{s['detection_rate']:.1%} of {s['commands']}",
                     f">= {detect:.0%}", s["detection_rate"] >= detect))
        rows.append((f"stream: false alarms per hour ({s['artifact']})", f"{s['false_alarms_per_hour']:.1f}", "<= 2",
                     s["false_alarms_per_hour"] <= 2))
    for h in r.payload.get("heldout", []) if size_budget == "large" else []:  # the held-out target is the large budget's
        for c in h["clips"][:1]:
            rows.append((f"held-out clip accuracy ({Path(h['folder']).name}, {c['artifact']})", f"{c['accuracy']:.1%}",
                         ">= 75%", c["accuracy"] >= 0.75))
    return rows


def tables(r: BenchRecord) -> list[tuple[str, list[str], list[list[str]]]]:
    return stream_tables(r.payload)


def stream_tables(r: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """The stream tables of the commands' benchmark results (``BenchRecord.payload``): streams, train_stream, heldout,
    stress_stream."""
    if not r.get("streams"):
        return []
    streams = r["streams"]
    out = [("Long stream (generated, voices never heard in training)",
            ["artifact", "commands", "detected", "false alarms", "per hour", "real-time factor", "ms per window"],
            [[s["artifact"], str(s["commands"]), f"{s['detection_rate']:.1%}", str(s["false_alarms"]),
              f"{s['false_alarms_per_hour']:.1f}", f"{s['real_time_factor']:.4f}", f"{s['ms_per_window']:.2f}"]
             for s in streams]),
           ("Long stream: the commands missed, what each false alarm was heard in, and detection by background",
            ["artifact", "missed", "false alarms", "detected by background"],
            [[s["artifact"], counts_text(s.get("missed", {})), counts_text(s.get("false_alarm_causes", {})),
              background_text(s.get("by_background", {}))] for s in streams]),
           ("Long stream: detection by signal-to-noise ratio (the word's level over its background's)",
            ["artifact", "detected by SNR"], [[s["artifact"], snr_text(s.get("by_snr", {}))] for s in streams])]
    if r.get("train_stream"):
        voices = (("test (never heard in training)", streams[0]), ("training", r["train_stream"]))
        out.append((f"Long stream: voices never heard in training against the training voices ({r['train_stream']['artifact']})",
                    ["voices", "minutes", "commands", "detected", "false alarms per hour", "detected by SNR"],
                    [[name, f"{s['audio_seconds'] / 60:g}", str(s["commands"]), f"{s['detection_rate']:.1%}",
                      f"{s['false_alarms_per_hour']:.1f}", snr_text(s.get("by_snr", {}))] for name, s in voices]))
    if r.get("heldout"):
        espeak = r["streams"][0]
        rows = []
        for h in r["heldout"]:
            stream = h.get("stream")
            for c in h["clips"]:
                s = stream if stream and stream["artifact"] == c["artifact"] else None
                rows.append([h["folder"], c["artifact"], f"{c['accuracy']:.1%} of {c['clips']}",
                             f"{s['detection_rate']:.1%} of {s['commands']}" if s else "",
                             f"{s['false_alarms_per_hour']:.1f}" if s else "", snr_text(s.get("by_snr", {})) if s else ""])
        out.append(("Held-out data (its measured half; no model trains on it), beside the espeak-ng test voices' stream "
                    f"({espeak['artifact']}: {espeak['detection_rate']:.1%} detected, {espeak['false_alarms_per_hour']:.1f} "
                    "false alarms per hour)",
                    ["folder", "artifact", "clip accuracy", "stream: detected", "false alarms per hour", "detected by SNR"],
                    rows))
    if r.get("stress_stream"):
        s = r["stress_stream"]
        out.append((f"Stress stream: test voices at -6 to 34 dB, beyond the clips' 5-30 (no target below 5 dB; {s['artifact']})",
                    ["SNR band", "commands", "detected"],
                    [[band, str(n), f"{d / n:.1%}"] for band, (d, n) in s.get("by_snr", {}).items()]
                    + [["false alarms per hour", "", f"{s['false_alarms_per_hour']:.1f}"]]))
    return out
