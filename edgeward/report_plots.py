"""The report's plots, drawn with matplotlib as inline SVG (the report works offline)."""

from __future__ import annotations

import io


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    _pyplot().close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def fraud_plots(train: dict) -> list[str]:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4))
    for name, curve in train["pr_curves"].items():
        auprc = train["metrics"][name]["auprc"]
        label = "MLP (edgeward)" if name == "model" else "HistGradientBoosting baseline"
        ax.step(curve["recall"], curve["precision"], where="post", label=f"{label}, AUPRC {auprc:.3f}")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall on the held-out time tail", xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(loc="lower left", fontsize=8)
    plots = [svg(fig)]
    hist = train["history"]
    if not hist.get("loss"):  # an adopted model: no training curves
        return plots
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
    plots.append(svg(fig))
    return plots


def bench_plot(bench: dict) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    colours = {"onnx": "tab:blue", "tflite": "tab:orange"}
    for a in bench["artifacts"]:
        ax.scatter(a["single_1t"]["p50_us"], a["gzip_bytes"] / 1024, color=colours.get(a["format"], "grey"),
                   marker="o" if a["precision"] == "fp32" else "s" if a["precision"] == "fp16" else "^")
        ax.annotate(a["artifact"].rsplit(".", 1)[0].replace("model-", "").replace("model", "fp32"),
                    (a["single_1t"]["p50_us"], a["gzip_bytes"] / 1024), fontsize=7, xytext=(3, 3), textcoords="offset points")
    for fmt, colour in colours.items():
        ax.scatter([], [], color=colour, label=fmt)
    ax.set(xlabel="single-row p50 latency, 1 thread (us)", ylabel="gzip size (KB)",
           title="Artifacts: size against latency (o fp32, s fp16, ^ int8)")
    ax.legend(fontsize=8)
    return svg(fig)


def confusion_plot(train: dict) -> str:
    import numpy as np

    plt = _pyplot()
    m = np.asarray(train["confusion"], dtype=float)
    share = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    labels = train["labels"]
    fig, ax = plt.subplots(figsize=(6, 5.2))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=60, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if m[i, j]:
                ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize=6,
                        color="white" if share[i, j] > 0.5 else "black")
    ax.set(xlabel="predicted", ylabel="said", title=f"Held-out voices: accuracy {train['metrics']['model']['accuracy']:.1%}")
    return svg(fig)


def timeline_plot(events: list[dict], truth: list[tuple], minutes: float = 2.0) -> str:
    plt = _pyplot()
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
    plt = _pyplot()
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
