"""The fraud task's part of the HTML report: data and model, held-out metrics against the baseline,
precision-recall and training curves, and the scoring of a new file (when the demo scored one)."""

from __future__ import annotations

from edgeward.core.html import escape, plots, pyplot, svg, table
from edgeward.core.rundir import RunDir, TrainingRecord
from edgeward.train.fraud.config import FraudPayload

SCORE_FILE = "score.json"  # the demo's scoring of a new file, in the run directory
NAMES = {"model": "MLP (edgeward)", "baseline": "HistGradientBoosting baseline"}


def section(run: RunDir, record: TrainingRecord) -> str:
    p: FraudPayload = record.payload
    split = record.data.split
    model = (f"adopted model {escape(p.adopted_from)}, {record.params:,} parameters." if p.adopted_from else
             f"MLP with {record.params:,} parameters, {record.epochs_run} epochs in {record.train_seconds} s, "
             f"fraud class weight {p.class_weight:.1f}.")
    parts = [f"<p>Data: <code>{escape(record.data.path)}</code>, {p.rows:,} transactions, fraud rate {p.fraud_rate:.2%}; "
             f"split by time ({split['train']:,} train / {split['val']:,} validation / {split['test']:,} held-out tail "
             f"with {p.test_frauds} frauds). {len(p.features)} features; {model}</p>"]
    rows = [[NAMES.get(k, k), f"{m['auprc']:.4f}", f"{m['roc_auc']:.4f}", f"{m['precision']:.3f}", f"{m['recall']:.3f}"]
            for k, m in record.metrics.items()]
    parts.append("<h3>Held-out metrics</h3>" + table(["model", "AUPRC", "ROC-AUC", "precision", "recall"], rows))
    parts.append(f"<p>Decision threshold {record.thresholds['decision']:.4f} (max F1 on the validation split); "
                 "precision and recall use each model's own threshold.</p>")
    parts.append(plots(fraud_plots(record)))
    scored = run.read_json(run / SCORE_FILE)
    if scored:
        parts.append("<h3>Scoring a new file</h3>" + table(
            ["input", "rows", "scored", "flagged", "rejected", "rejects file"],
            [[scored["input"], f"{scored['rows']:,}", f"{scored['scored']:,}", f"{scored['flagged']:,}",
              f"{scored['rejected']:,}", scored["rejects_path"]]]))
        if scored.get("reject_examples"):
            parts.append(table(["line", "field", "reason"], scored["reject_examples"]))
    return "\n".join(parts)


def fraud_plots(record: TrainingRecord) -> list[str]:
    """Precision-recall on the held-out tail (the model and the baseline), and the training curves."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 4))
    for name, curve in record.payload.pr_curves.items():
        auprc = record.metrics[name]["auprc"]
        ax.step(curve["recall"], curve["precision"], where="post", label=f"{NAMES.get(name, name)}, AUPRC {auprc:.3f}")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall on the held-out time tail", xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(loc="lower left", fontsize=8)
    out = [svg(fig)]
    hist = record.history
    if not hist.get("loss"):  # an adopted model: no training curves
        return out
    fig, ax = plt.subplots(figsize=(5, 4))
    epochs = range(1, len(hist["loss"]) + 1)
    ax.plot(epochs, hist["loss"], label="training loss (weighted)")
    ax.plot(epochs, hist["val_loss"], label="validation loss")
    ax2 = ax.twinx()
    ax2.plot(epochs, hist["val_auprc"], color="tab:green", label="validation AUPRC")
    ax2.set_ylabel("validation AUPRC")
    ax.set(xlabel="epoch", ylabel="loss", title="Training")
    ax.legend(loc="upper center", fontsize=8)
    ax2.legend(loc="lower right", fontsize=8)
    out.append(svg(fig))
    return out
