"""The voice-commands task's part of the HTML report: data and model, the confusion matrix on held-out
voices, and the long stream (a timeline of what was said and heard; detection by SNR and background)."""

from __future__ import annotations

from edgeward.core.html import confusion_plot, escape, plots, pyplot, svg
from edgeward.core.rundir import RunDir, TrainingRecord
from edgeward.tasks.commands.stream_score import read_truth

EVENTS_FILE = "stream_events.json"  # the benchmark's events on the test stream (model.onnx), in the run directory


def section(run: RunDir, record: TrainingRecord) -> str:
    split = record.data.split
    parts = [f"<p>Data: <code>{escape(record.data.path)}</code>: {split['train']:,} training, {split['val']:,} "
             f"validation and {split['test']:,} test clips; validation and test voices never occur in training. DS-CNN "
             f"with {record.params:,} parameters, {record.epochs_run} epochs in {record.train_seconds} s. "
             f"Accuracy on held-out voices {record.metrics['model']['accuracy']:.2%}.</p>",
             plots([confusion_plot(record.payload.confusion, record.labels, "said",
                                   f"Held-out voices: accuracy {record.metrics['model']['accuracy']:.1%}")])]
    stream = run.read_json(run / EVENTS_FILE)
    if stream:
        parts.append(f"<h3>Long stream</h3><p>{escape(stream['summary'])}</p>")
        items = [timeline_plot(stream["events"], read_truth(stream["truth"]))]
        bench = run.bench()
        streams = bench.payload.get("streams", []) if bench else []
        score = next((s for s in streams if s["artifact"] == stream["artifact"]), {})
        if score.get("by_snr") or score.get("by_background"):
            items.append(detection_plot(score))
        parts.append(plots(items))
    return "\n".join(parts)


def timeline_plot(events: list[dict], truth: list[tuple], minutes: float = 2.0) -> str:
    plt = pyplot()
    end = minutes * 60
    fig, ax = plt.subplots(figsize=(10, 2.6))
    for s, e, label, *_ in truth:
        if s < end:
            ax.axvspan(s, e, ymin=0.55, ymax=0.95, color="tab:green" if label != "_unknown_" else "lightgrey", alpha=0.6)
            ax.text(s, 0.97, label.strip("_"), fontsize=6, rotation=45, transform=ax.get_xaxis_transform())
    for ev in events:
        if ev["end"] < end:
            ax.axvspan(ev["start"], ev["end"], ymin=0.05, ymax=0.45, color="tab:blue", alpha=0.4)
            ax.text(ev["start"], 0.2, ev["label"], fontsize=6, transform=ax.get_xaxis_transform())
    ax.set(xlim=(0, end), yticks=[], xlabel="seconds",
           title="Stream: said (top; commands green, other words grey) and heard (bottom)")
    return svg(fig)


def detection_plot(score: dict) -> str:
    """Share of the stream's commands detected in each SNR band and over each background (at least one of
    them in ``score``), with counts."""
    plt = pyplot()
    panels = [(title, table) for title, table in (("by SNR of the word over its background", score.get("by_snr", {})),
                                                  ("by background", score.get("by_background", {}))) if table]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 2.8), squeeze=False)
    for ax, (title, table) in zip(axes[0], panels):
        names = list(table)
        shares = [d / n for d, n in table.values()]
        ax.barh(range(len(names)), shares, color="tab:green")
        ax.set_yticks(range(len(names)), names, fontsize=8)
        for i, (d, n) in enumerate(table.values()):
            ax.text(0.01, i, f"{d} of {n}", va="center", fontsize=7, color="white")
        ax.axvline(0.95, color="black", linestyle=":", linewidth=1)
        ax.set(xlim=(0, 1), xlabel="commands detected (dotted: the 95% target)", title=f"Stream: detected {title}")
    return svg(fig)
