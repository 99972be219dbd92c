"""The classification task's part of the HTML report: data and model, held-out metrics, the confusion
matrix, and the images training could not read."""

from __future__ import annotations

from edgeward.core.html import confusion_plot, escape, plots, table
from edgeward.core.rundir import RunDir, TrainingRecord


def section(run: RunDir, record: TrainingRecord) -> str:
    p, m, split = record.payload, record.metrics["model"], record.data.split
    size = p.preprocess["size"]
    scores = f"top-1 {m['top1']:.2%}" + (f", top-5 {m['top5']:.2%}" if "top5" in m else "")
    if "auprc" in m:
        scores += (f"; {escape(p.positive)} AUPRC {m['auprc']:.4f}, ROC-AUC {m['roc_auc']:.4f}, precision "
                   f"{m['precision']:.3f} and recall {m['recall']:.3f} at the threshold {record.thresholds['decision']:.3f} "
                   "(max F1 on validation)")
    parts = [f"<p>Data: <code>{escape(record.data.path)}</code>: {len(record.labels)} classes, {split['train']:,} training, "
             f"{split['val']:,} validation and {split['test']:,} test images at {size}x{size}. {_model(record)}. "
             f"Held-out {scores} (Keras).</p>",
             plots([confusion_plot(p.confusion, record.labels, "true class", f"Held-out images: top-1 {m['top1']:.1%}")])]
    if p.skipped:
        parts.append(f"<p>{len(p.skipped)} image(s) could not be read and were left out:</p>"
                     + table(["image", "reason"], p.skipped[:20]))
    return "\n".join(parts)


def _model(record: TrainingRecord) -> str:
    p = record.payload
    if p.arch == "adopted":
        return f"A model of yours (edgeward export --model) with {record.params:,} parameters"
    return f"{escape(p.arch)} with {record.params:,} parameters, {record.epochs_run} epochs in {record.train_seconds} s"
