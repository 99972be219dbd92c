"""The HTML report of a demo or run directory: one self-contained file (inline SVG plots, no CDN).

Each run gets its task's heading and section (``TaskSpec.section``), then what every task shares:
compression, export and validation, the benchmark.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from edgeward.core.errors import InputError
from edgeward.core.html import escape, image, plots, pyplot, svg, table
from edgeward.core.records import BenchRecord
from edgeward.core.registry import get_task, task_names
from edgeward.core.rundir import RunDir

_CSS = """
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
h1{margin-bottom:.2em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0} td,th{border:1px solid #ccc;padding:.3em .7em;text-align:left} td.n{text-align:right} th{background:#f3f3f3} .ok{color:#070} .bad{color:#b00}
.plots{display:flex;flex-wrap:wrap;gap:1em} .plots svg{max-width:480px;height:auto} code{background:#f5f5f5;padding:0 .2em}
"""
DEMO_FILE = "demo.json"  # the demo's steps, beside its runs


def runs_in(folder: Path) -> list[RunDir]:
    """The run directories of a demo folder (its sub-folders with a training record, in registry order of
    their tasks), or the folder itself if it is one."""
    if RunDir(folder).has_record():
        return [RunDir(folder)]
    order = {name: i for i, name in enumerate(task_names())}
    found = [(RunDir(sub), sub.name) for sub in sorted(folder.iterdir()) if sub.is_dir() and RunDir(sub).has_record()] \
        if folder.is_dir() else []
    return [run for run, _ in sorted(found, key=lambda rn: (order.get(rn[0].record().task, len(order)), rn[1]))]


def write_report(out_dir: str | os.PathLike) -> Path:
    """Write ``report.html`` into ``out_dir`` (a demo directory with a run per task, or one run)."""
    out = Path(out_dir)
    runs = runs_in(out)
    if not runs:
        raise InputError(f"{out}: expected a demo or run directory with train.json, got none")
    demo = RunDir(out).read_json(out / DEMO_FILE)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>edgeward report</title><style>{_CSS}</style></head><body>",
             "<h1>edgeward report</h1>"]
    if demo:
        tier = {"quick": "<p>The quick demo (<code>make demo</code>): short trainings, ONNX fp32 and int8, short "
                         "benchmarks. <code>make demo-full</code> runs the whole flow at full size.</p>",
                "full": "<p>The full demo (<code>make demo-full</code>): every task's whole flow at its demo sizes.</p>"}
        parts.append("<h2>Steps</h2>" + tier.get(demo.get("tier", ""), "") + table(["step", "seconds", "result"],
                                              [[s["step"], f"{s['seconds']:.1f}", s["result"]] for s in demo["steps"]]))
    parts += released_section(out)
    for run in runs:
        record = run.record()
        spec = get_task(record.task)
        parts += [f"<h2>{escape(spec.title)}</h2>", spec.section(run, record), *compress_section(run),
                  *export_section(run), *bench_section(run)]
    parts.append("</body></html>")
    path = RunDir(out).report_file
    path.write_text("\n".join(parts))
    return path


def released_section(out: Path) -> list[str]:
    """The demo's first part: the released models on inputs drawn afresh, beside their numbers at release."""
    from edgeward.app.demo import RELEASED_DIR, RELEASED_FILE

    released = RunDir(out).read_json(out / RELEASED_FILE)
    if not released:
        return []
    rows = []
    for name, r in released.items():
        before = {m["name"]: m["value"] for m in r["at_release"]}
        rows += [[name, r["file"], m["name"], f"{m['value']:.3f}", f"{before[m['name']]:.3f}" if m["name"] in before else "-",
                  m["data"]] for m in r["metrics"]]
    gifs = sorted((out / RELEASED_DIR).rglob("*.gif"))
    streams = [json.loads(p.read_text()) for p in sorted((out / RELEASED_DIR).rglob("events.json"))]  # a task's event streams
    return ["<h2>Released models, on inputs drawn afresh</h2>",
            "<p>The models that ship with edgeward (<code>edgeward models list</code>), run by the runtime on a small sample "
            "that neither their training nor their release measurement drew. The sections after this one train each "
            "task's model for a few minutes to show the flow: those models are far weaker than the released ones, "
            "which <code>make models</code> makes with the benchmark recipes.</p>",
            table(["model", "file", "metric", "this demo", "at release", "measured on"], rows),
            *(f"<p>Stream: {escape(e['summary'])}</p>" for e in streams),
            *(image(g, f"{g.parent.parent.name}: {g.stem}") for g in gifs)]


def compress_section(run: RunDir) -> list[str]:
    compress = run.read_json(run.compress_file)
    if not compress:
        return []
    rows = [["base (trained)", f"{compress['base']['metric']:.4f}", "", ""]]
    for key in ("pruned", "qat", "pruned-qat"):
        if key in compress:
            c = compress[key]
            rows.append([key, f"{c['metric']:.4f}", f"{(c['metric'] - compress['base']['metric']) * 100:+.2f}",
                         ", ".join(f"{k} {v:.0%}" for k, v in c["sparsity"].items())])
    return ["<h3>Compression (TFMOT)</h3>" + table(["Keras model", compress["metric"], "points", "zero weights per layer"], rows)]


def export_section(run: RunDir) -> list[str]:
    if not run.has_validation():
        return []
    from edgeward.export.tables import export_rows

    validation = run.validation()
    metric = next((a.metric_name for a in validation.checks), "metric")
    header, rows = export_rows(validation)
    checked = ", ".join(validation.targets.get("checked", [])) or "this host only"
    parts = ["<h3>Export and validation</h3><p>Every artifact checked on the held-out rows: fp32/fp16 by max abs "
             f"diff against Keras, int8 and pruned by the {metric} drop against the fp32 Keras model and the share "
             f"of identical decisions; int8 files on each CPU class ({escape(checked)}).</p>" + table(header, rows)]
    for why in sorted({a.degenerate for a in validation.checks if a.degenerate}):
        parts.append(f"<p><b>Warning: the checks are degenerate</b>: {escape(why)}. Every artifact agrees with such a "
                     "reference, so none is validated.</p>")
    if validation.search:
        parts.append("<p>int8 candidates tried (stops at the first within budget):</p>" + table(
            ["method", f"{metric} drop (points)", "within budget"],
            [[t["method"], f"{t['drop_points']:+.2f}", "yes" if t["passed"] else "no"] for t in validation.search]))
    rec = validation.recommendation
    if rec and rec.get("artifact"):
        parts.append(f"<p><b>Recommended for {escape(rec['device'])}: {escape(rec['artifact'])}</b> "
                     f"&mdash; {escape(rec['reason'])}.</p>")
    return parts


def bench_section(run: RunDir) -> list[str]:
    bench = run.bench()
    if not bench:
        return []
    from edgeward.export.bench import machine_line, tables

    parts = [f"<h3>Benchmark</h3><p>{escape(machine_line(bench))}.</p>"]
    if bench.artifacts:
        parts.append(plots([bench_plot(bench)]))
    for title, header, rows in tables(bench):
        parts.append(f"<h4>{escape(title)}</h4>" + table(header, rows))
    return parts


def bench_plot(bench: BenchRecord) -> str:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    colours = {"onnx": "tab:blue", "tflite": "tab:orange"}
    for a in bench.artifacts:
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
