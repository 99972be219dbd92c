"""The HTML report of a demo or run directory: one self-contained file (inline SVG plots, no CDN)."""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

from edgeward.report_plots import bench_plot, confusion_plot, detection_plot, fraud_plots, timeline_plot

REPORT_FILE = "report.html"

_CSS = """
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
h1{margin-bottom:.2em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0} td,th{border:1px solid #ccc;padding:.3em .7em;text-align:left} td.n{text-align:right} th{background:#f3f3f3} .ok{color:#070} .bad{color:#b00}
.plots{display:flex;flex-wrap:wrap;gap:1em} .plots svg{max-width:480px;height:auto} code{background:#f5f5f5;padding:0 .2em}
"""


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value) -> str:
    text = str(value)
    numeric = bool(text) and text.replace(",", "").replace(".", "").split(" ")[0].lstrip("-").rstrip("x").isdigit()
    return f"<td class='n'>{html.escape(text)}</td>" if numeric else f"<td>{html.escape(text)}</td>"


def _load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def fraud_section(run: Path) -> str:

    train = _load(run / "train.json")
    if train is None:
        return ""
    data, parts = train["data"], ["<h2>Fraud scoring</h2>"]
    parts.append(
        f"<p>Data: <code>{html.escape(data['path'])}</code>, {data['rows']:,} transactions, fraud rate "
        f"{data['fraud_rate']:.2%}; split by time ({data['split']['train']:,} train / {data['split']['val']:,} validation / "
        f"{data['split']['test']:,} held-out tail with {data['split']['test_frauds']} frauds). "
        f"{len(train['features'])} features; " + (f"adopted model {html.escape(train['adopted_from'])}, "
        f"{train['params']:,} parameters.</p>" if "adopted_from" in train else
        f"MLP with {train['params']:,} parameters, {train['epochs_run']} epochs in "
        f"{train['train_seconds']} s, fraud class weight {train['class_weight']:.1f}.</p>")
    )
    rows = [[("MLP (edgeward)" if k == "model" else "HistGradientBoosting baseline"), f"{m['auprc']:.4f}",
             f"{m['roc_auc']:.4f}", f"{m['precision']:.3f}", f"{m['recall']:.3f}"] for k, m in train["metrics"].items()]
    parts.append("<h3>Held-out metrics</h3>" + _table(["model", "AUPRC", "ROC-AUC", "precision", "recall"], rows))
    parts.append(f"<p>Decision threshold {train['threshold']:.4f} (max F1 on the validation split); precision and "
                 "recall use each model's own threshold.</p>")
    parts.append('<div class="plots">' + "".join(fraud_plots(train)) + "</div>")
    compress = _load(run / "compress.json")
    if compress:
        rows = [["base (trained)", f"{compress['base']['metric']:.4f}", "", ""]]
        for key in ("pruned", "qat", "pruned-qat"):
            if key in compress:
                c = compress[key]
                rows.append([key, f"{c['metric']:.4f}", f"{(c['metric'] - compress['base']['metric']) * 100:+.2f}",
                             ", ".join(f"{k} {v:.0%}" for k, v in c["sparsity"].items())])
        parts.append("<h3>Compression (TFMOT)</h3>" + _table(["Keras model", "AUPRC", "points", "zero weights per layer"], rows))
    parts += export_section(run, "AUPRC")
    scored = _load(run / "score.json")
    if scored:
        parts.append("<h3>Scoring a new file</h3>" + _table(
            ["input", "rows", "scored", "flagged", "rejected", "rejects file"],
            [[scored["input"], f"{scored['rows']:,}", f"{scored['scored']:,}", f"{scored['flagged']:,}",
              f"{scored['rejected']:,}", scored["rejects_path"]]]))
        if scored.get("reject_examples"):
            parts.append(_table(["line", "field", "reason"], scored["reject_examples"]))
    parts += bench_section(run)
    return "\n".join(parts)


def export_section(run: Path, metric: str) -> list[str]:
    parts: list[str] = []
    validation = _load(run / "validation.json")
    if validation:
        from edgeward.export.report_table import export_rows

        header, rows = export_rows(validation)
        parts.append("<h3>Export and validation</h3><p>Every artifact checked on the held-out rows: fp32/fp16 by max abs "
                     f"diff against Keras, int8 and pruned by the {metric} drop against the fp32 Keras model and the share "
                     "of identical decisions.</p>" + _table(header, rows))
        if validation.get("search"):
            parts.append("<p>int8 candidates tried (stops at the first within budget):</p>" + _table(
                ["method", f"{metric} drop (points)", "within budget"],
                [[t["method"], f"{t['drop_points']:+.2f}", "yes" if t["passed"] else "no"] for t in validation["search"]]))
        rec = validation.get("recommendation")
        if rec and rec.get("artifact"):
            parts.append(f"<p><b>Recommended for {html.escape(rec['device'])}: {html.escape(rec['artifact'])}</b> "
                         f"&mdash; {html.escape(rec['reason'])}.</p>")
    return parts


def bench_section(run: Path) -> list[str]:
    parts: list[str] = []
    bench = _load(run / "bench.json")
    if bench:
        from edgeward.export.bench import machine_line, tables

        parts.append(f"<h3>Benchmark</h3><p>{html.escape(machine_line(bench))}.</p>")
        if bench["artifacts"]:
            parts.append('<div class="plots">' + bench_plot(bench) + "</div>")
        for title, header, rows in tables(bench):
            parts.append(f"<h4>{html.escape(title)}</h4>" + _table(header, rows))
    return parts


def commands_section(run: Path) -> str:
    train = _load(run / "train.json")
    if train is None:
        return ""
    split = train["data"]["split"]
    parts = ["<h2>Voice commands</h2>",
             f"<p>Data: <code>{html.escape(train['data']['path'])}</code>: {split['train']:,} training, {split['val']:,} "
             f"validation and {split['test']:,} test clips; validation and test voices never occur in training. DS-CNN "
             f"with {train['params']:,} parameters, {train['epochs_run']} epochs in {train['train_seconds']} s. "
             f"Accuracy on held-out voices {train['metrics']['model']['accuracy']:.2%}.</p>",
             '<div class="plots">' + confusion_plot(train) + "</div>"]
    stream = _load(run / "stream_events.json")
    if stream:
        from edgeward.export.stream_eval import read_truth

        parts.append(f"<h3>Long stream</h3><p>{html.escape(stream['summary'])}</p>")
        plots = [timeline_plot(stream["events"], read_truth(stream["truth"]))]
        score = next((s for s in (_load(run / "bench.json") or {}).get("streams", []) if s["artifact"] == stream["artifact"]), {})
        if score.get("by_snr") or score.get("by_background"):
            plots.append(detection_plot(score))
        parts.append('<div class="plots">' + "".join(plots) + "</div>")
    parts += export_section(run, "accuracy")
    parts += bench_section(run)
    return "\n".join(parts)


def _image(path: Path, alt: str) -> str:
    import base64

    mime = "image/gif" if path.suffix == ".gif" else "image/png"
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img src="data:{mime};base64,{data}" alt="{html.escape(alt)}" style="max-width:100%">'


def detect_section(run: Path) -> str:
    train = _load(run / "train.json")
    if train is None:
        return ""
    split, m = train["data"]["split"], train["metrics"]["model"]
    parts = ["<h2>Object detection (digits)</h2>",
             f"<p>Data: <code>{html.escape(train['data']['path'])}</code>: {split['train']:,} training, {split['val']:,} "
             f"validation and {split['test']:,} test images. CenterNet-style detector on a depthwise-separable backbone, "
             f"{train['shape']['size']}x{train['shape']['size']} input, {train['params']:,} parameters, {train['epochs_run']} "
             f"epochs in {train['train_seconds']} s. Held-out mAP@0.5 {m['map50']:.3f}, mAP@0.5:0.95 {m['map50_95']:.3f} "
             "(Keras, decoded by the runtime's decoder).</p>",
             _table(["class", "AP@0.5", "AP@0.5:0.95"],
                    [[name, f"{v['ap50']:.3f}", f"{v['ap50_95']:.3f}"] for name, v in train["per_class"].items()])]
    bench = _load(run / "bench.json")
    video = next((v for v in (bench or {}).get("video", []) if "annotated" in v), None)
    if video:
        folder = run / "annotated"
        parts.append(f"<h3>Video</h3><p>{html.escape(video['artifact'])} on {video['frames']} frames of a generated video, one "
                     f"thread: {video['fps']:.0f} FPS end to end, video mAP@0.5 {video['video_map50']:.3f}. Every second frame "
                     f"below; the full annotated video is <code>{html.escape(str(folder / video['annotated']['video']))}</code>.</p>")
        parts.append(_image(folder / video["annotated"]["gif"], "annotated video"))
        parts.append('<div class="plots">' + "".join(_image(folder / f, f) for f in video["annotated"]["frames"]) + "</div>")
    parts += export_section(run, "map50")
    parts += bench_section(run)
    return "\n".join(parts)


def write_report(out_dir: str | os.PathLike) -> Path:
    """Write ``report.html`` into ``out_dir`` (a demo directory with task subfolders, or one run)."""
    from edgeward.errors import InputError

    out = Path(out_dir)
    runs = [out / t for t in ("fraud", "commands", "detect") if (out / t / "train.json").exists()] or (
        [out] if (out / "train.json").exists() else [])
    if not runs:
        raise InputError(f"{out}: expected a demo or run directory with train.json, got none")
    demo = _load(out / "demo.json")
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>edgeward report</title><style>{_CSS}</style></head><body>",
             "<h1>edgeward report</h1>"]
    if demo:
        parts.append("<h2>Steps</h2>" + _table(["step", "seconds", "result"],
                                               [[s["step"], f"{s['seconds']:.1f}", s["result"]] for s in demo["steps"]]))
    for r in runs:
        task = json.loads((r / "train.json").read_text()).get("task")
        section = {"commands": commands_section, "detect": detect_section}.get(task, fraud_section)
        parts.append(section(r))
    parts.append("</body></html>")
    path = out / REPORT_FILE
    path.write_text("\n".join(parts))
    return path
