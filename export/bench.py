"""``edgeward bench DIR``: every artifact of a run, and the task's own measurements, in one run.

Artifacts table (format x precision x source): file size, gzip size, the task metric (measured on
held-out rows at export), single-row p50/p95/p99 latency on 1 thread and on all threads, batched
throughput, load time and peak RSS (fresh process). The same code times ONNX Runtime and LiteRT
through the runtime's ``Model`` with the device profile's providers. Also the runtime's overhead
over a bare ``InferenceSession.run``, and the task's own measurements (its ``TaskSpec.bench``: the
runtime against Keras, a long audio stream, a video); what the export's rule recommends from these numbers; with
``targets``, each int8 file measured again on those CPU classes. JSON, CSV and Markdown.
"""

from __future__ import annotations

import csv
import gzip
import os
import platform
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeward.core.config import at_least, check, option
from edgeward.core.errors import InputError
from edgeward.core.records import ArtifactCheck, BenchRecord, ValidationRecord
from edgeward.core.registry import get_task
from edgeward.core.rundir import RunDir, holdout_inputs
from edgeward.export.timing import Rows, batched, count, in_subprocess, single_row, take, us_text

# peak RSS as deployed: load, then one row at a time (a whole held-out batch would measure the batch); the rows
# come from a small .npz (by input name) of at most 8 MB, so that held-out images do not count as the runtime's memory
_ARTIFACT_RSS = """
import sys, time
import numpy as np
t0 = time.perf_counter()
from edgeward.runtime import Model
m = Model(sys.argv[1], device=sys.argv[3], threads=1)
x = dict(np.load(sys.argv[2]))
m.run({k: v[:1] for k, v in x.items()})
cold = time.perf_counter() - t0
for i in range(len(next(iter(x.values())))):
    m.run({k: v[i:i + 1] for k, v in x.items()})
print(cold, [int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM")][0])
"""


@dataclass(frozen=True)
class BenchOptions:
    """What ``edgeward bench`` measures, and how many times (medians). The API and the CLI refuse the same values."""

    device: str = option("auto", "the device profile the artifacts are timed with", cli=False)  # --device
    single_rows: int = option(2000, "single-row calls per artifact and thread count")
    keras_single_rows: int = option(200, "Keras model(x) single-row calls (about 100x slower than the runtime)")
    predict_single_rows: int = option(30, "Keras model.predict single-row calls")
    batch_repeats: int = option(7, "batched passes over the held-out rows per artifact")
    load_repeats: int = option(5, "loads of each artifact")
    cold_repeats: int = option(5, "cold starts in fresh processes (runtime and TensorFlow)")
    vs_keras: bool = option(True, "the runtime against Keras", cli=False)  # --no-keras
    # folders of held-out data the task measures on as well (a task's --eval-only data)
    heldout: tuple[str, ...] = option((), "held-out data folders", cli=False)  # --heldout
    # CPU classes (devices.cpu) to measure the int8 files on again, beside this host
    targets: tuple | None = option(None, "CPU classes", cli=False)  # --target

    def __post_init__(self):
        at_least(self, 1, "single_rows", "keras_single_rows", "predict_single_rows", "batch_repeats", "load_repeats",
                 "cold_repeats")
        check(self, "device", isinstance(self.device, str) and bool(self.device), "a device profile's name")
        check(self, "heldout", isinstance(self.heldout, tuple), "a tuple of folders")


def machine() -> dict:
    from edgeward.devices import this_host

    host = this_host()
    import onnxruntime

    return {"cpu": host.cpu_model, "arch": host.arch, "cores": host.cores, "flags": list(host.cpu_flags),
            "python": platform.python_version(), "onnxruntime": onnxruntime.__version__,
            "os": platform.platform(terse=True)}


def bench_artifact(path: Path, x: Rows, profile, options: BenchOptions) -> dict:
    """Size, load time, single-row latency (one thread and all), batched throughput and peak RSS. ``x``: held-out
    rows of the model's one input, or of each input by name."""
    from edgeward.export.recommend import single_row_latency, timed_model

    data = path.read_bytes()
    row = {"size_bytes": len(data), "gzip_bytes": len(gzip.compress(data, 9))}
    loads = []
    for _ in range(options.load_repeats):
        t = time.perf_counter()
        timed_model(data, profile, 1).close()
        loads.append(time.perf_counter() - t)
    row["load_ms"] = statistics.median(loads) * 1000
    for threads in (1, profile.num_threads):
        with timed_model(data, profile, threads) as m:
            name = m.input_names[0]
            row[f"single_{threads}t"] = single_row_latency(m, x, options.single_rows)
            row["execution"] = m.execution  # a GPU profile's IO binding and CUDA graph, or a plain run
            if threads == 1:
                row["batched_1t"] = batched(lambda b: m.run(b if isinstance(b, dict) else {name: b}, validate=False), x,
                                            options.batch_repeats)
    with tempfile.TemporaryDirectory() as tmp:
        rows = Path(tmp) / "rows.npz"
        feeds = x if isinstance(x, dict) else {name: x}
        per_row = sum(v[0].nbytes for v in feeds.values())
        np.savez(rows, **take(feeds, 0, int(np.clip((8 << 20) // max(per_row, 1), 1, 200))))
        rss = in_subprocess(_ARTIFACT_RSS, str(path), str(rows), profile.name, repeats=1)
    row["peak_rss_mb"] = rss["peak_rss_mb"]
    return row


def overhead(artifact: Path, x: np.ndarray, calls: int) -> dict:
    """Single-row p50 of ``Model.run`` (validated, and not) against a bare InferenceSession.run, interleaved."""
    import onnxruntime as ort

    from edgeward.devices import cpu_profile
    from edgeward.runtime.engine.model import Model

    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = 1, 1
    session = ort.InferenceSession(str(artifact), so, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    in_name = session.get_inputs()[0].name
    out = {}
    with Model(artifact, device=cpu_profile(), threads=1) as m:
        fns = {"bare": lambda r: session.run(names, {in_name: r}),
               "model_run": lambda r: m.run({in_name: r}, validate=False),
               "model_run_validated": lambda r: m.run({in_name: r})}
        samples = {k: [] for k in fns}
        for _ in range(5):  # interleave rounds so that machine noise hits all three alike
            for k, fn in fns.items():
                samples[k].append(single_row(fn, x, calls // 5)["p50_us"])
    for k, v in samples.items():
        out[f"{k}_p50_us"] = statistics.median(v)
    out["ratio"] = out["model_run_p50_us"] / out["bare_p50_us"]
    out["ratio_validated"] = out["model_run_validated_p50_us"] / out["bare_p50_us"]
    return out


def bench_run(run_dir: str | os.PathLike, options: BenchOptions = BenchOptions(), progress: bool = False) -> BenchRecord:
    """Every artifact of the run that passed its check (or was checked degenerately: an untrained model's speed is
    still its speed) measured, then the task's own benchmark; written to ``bench.json`` and ``bench.csv``."""
    from tqdm import tqdm

    from edgeward.devices import resolve

    run = RunDir(run_dir)
    if not run.has_validation():
        raise InputError(f"{run}: no exported artifacts (validation.json); run `edgeward export {run}` first")
    validation = run.validation()
    checks = [c for c in validation.checks if c.usable and run.artifact(c.artifact).exists()]
    if not checks:
        raise InputError(f"{run}: no artifact passed validation; nothing to benchmark")
    record = run.record()
    spec = get_task(record.task)
    names = get_task(record.task).contract(run, record).input_names
    feeds = holdout_inputs(np.load(run.holdout), names)
    x = feeds if len(feeds) > 1 else feeds[names[0]]
    profile = resolve(options.device)
    bar = tqdm(total=len(checks) + 2 + spec.bench_steps(options), desc="benchmark", disable=not progress, leave=False)
    result = BenchRecord(task=record.task, machine=machine(), device=profile.name, threads_all=profile.num_threads,
                         rows=count(x))
    runnable = {"onnx" if b.value == "onnxruntime" else b.value for b in profile.backends}
    for check in checks:
        if check.format not in runnable:
            bar.update(1)
            continue
        row = {"artifact": check.artifact, "format": check.format, "precision": check.precision, "source": check.source,
               "method": check.method, "metric": check.metric, "drop_points": check.drop_points,
               "status": "degenerate" if check.degenerate else "passed"}
        row.update(bench_artifact(run.artifact(check.artifact), x, profile, options))
        result.artifacts.append(row)
        bar.update(1)
    fp32 = run.artifact("model.onnx")
    if fp32.exists() and not isinstance(x, dict):  # the overhead against a bare session: one-input models
        result.overhead = overhead(fp32, x, options.single_rows)
    bar.update(1)
    result.recommendation = recommendation(result, checks, profile)
    if options.targets is not None:
        result.cpu_classes = cpu_classes(run_dir, checks, options.targets)
    spec.bench(run, record, result, options, runnable, lambda: bar.update(1))
    result.targets = [{"target": t, "measured": m, "goal": g, "met": ok}
                      for t, m, g, ok in spec.targets(result, validation) + targets(result, validation)]
    bar.update(1)
    bar.close()
    run.write_bench(result)
    _write_csv(run.bench_csv, result.artifacts, profile.num_threads)
    return result


def recommendation(result: BenchRecord, checks: list[ArtifactCheck], profile) -> dict:
    """What the export's rule recommends from this benchmark's own numbers (single-row p50 on the profile's threads)."""
    from edgeward.export.recommend import choose

    timed = {a["artifact"]: a[f"single_{result.threads_all}t"]["p50_us"] for a in result.artifacts}
    return choose(checks, timed, profile)


def cpu_classes(run_dir, checks: list[ArtifactCheck], classes: tuple) -> dict:
    """Each int8 file measured again on this host and on ``classes`` (emulated where this host is not one): by
    artifact, by class, its metric, drop and agreement. Emulated timings are no board's, so none are taken."""
    from edgeward.export.engine import RunData, recheck

    run = RunData(run_dir)
    return {c.artifact: recheck(run, c, tuple(classes)) for c in checks if c.precision.startswith("int8")}


def _write_csv(path: Path, rows: list[dict], threads_all: int) -> None:
    columns = ["artifact", "format", "precision", "source", "size_bytes", "gzip_bytes", "metric", "drop_points",
               "p50_us_1t", "p95_us_1t", "p99_us_1t", "p50_us_all", "p95_us_all", "p99_us_all", "rows_per_s_1t",
               "load_ms", "peak_rss_mb"]
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for r in rows:
            all_key = f"single_{threads_all}t"
            w.writerow([r["artifact"], r["format"], r["precision"], r["source"], r["size_bytes"], r["gzip_bytes"],
                        round(r["metric"], 6), round(r["drop_points"], 3),
                        *(round(r["single_1t"][p], 2) for p in ("p50_us", "p95_us", "p99_us")),
                        *(round(r[all_key][p], 2) for p in ("p50_us", "p95_us", "p99_us")),
                        round(r["batched_1t"]["rows_per_s"]), round(r["load_ms"], 2), round(r["peak_rss_mb"], 1)])


def targets(r: BenchRecord, validation: ValidationRecord) -> list[tuple]:
    """The targets every task shares, measured: (what, measured, goal, met: True, False or None for n/a)."""
    rows = []
    fp32 = r.row("model.onnx")
    if fp32:
        int8 = [a for a in r.artifacts if a["format"] == "onnx" and a["precision"] == "int8"]
        if int8:
            smallest = min(int8, key=lambda a: a["size_bytes"])
            ratio = smallest["size_bytes"] / fp32["size_bytes"]
            big = fp32["size_bytes"] > 100_000
            rows.append(("int8 size / fp32 size (ONNX, smallest int8)", f"{ratio:.2f}x ({smallest['artifact']})", "<= 0.27x (models > 100 KB)",
                         (ratio <= 0.27) if big else None))
        pruned_int8 = [a for a in r.artifacts if a["source"].startswith("pruned") and a["precision"].startswith("int8")]
        if pruned_int8:
            best = min(pruned_int8, key=lambda a: a["gzip_bytes"])
            factor = fp32["gzip_bytes"] / best["gzip_bytes"]
            rows.append(("fp32 gzip / (50% pruned + int8) gzip", f"{factor:.1f}x ({best['artifact']})", ">= 6x", factor >= 6))
    checks = validation.checks
    ptq = [c for c in checks if c.precision.startswith("int8") and c.source in ("base", "pruned")]
    qat = [c for c in checks if c.source in ("qat", "pruned-qat")]
    if ptq:
        worst = max(ptq, key=lambda c: c.drop_points)
        rows.append(("int8 metric drop, post-training (worst)", f"{worst.drop_points:+.2f} points ({worst.artifact})", "<= 1 point", worst.drop_points <= 1.0))
    if qat:
        worst = max(qat, key=lambda c: c.drop_points)
        rows.append(("int8 metric drop, QAT (worst)", f"{worst.drop_points:+.2f} points ({worst.artifact})", "<= 0.5 point", worst.drop_points <= 0.5))
    if r.overhead:
        o = r.overhead
        rows.append(("runtime Model.run / bare session.run, single-row p50", f"{o['ratio']:.3f}x ({o['model_run_p50_us']:.2f} vs {o['bare_p50_us']:.2f} us)", "<= 1.05x", o["ratio"] <= 1.05))
        rows.append(("same, with input validation (the default)", f"{o['ratio_validated']:.2f}x", "(reported)", None))
    return rows


def tables(r: BenchRecord) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) tables, shared by the terminal, the README and the HTML report: the artifacts,
    the task's own, the targets."""
    out = []
    n_all = r.threads_all
    header = ["artifact", "size", "gzip", "metric", "p50 1t", "p99 1t", f"p50 {n_all}t", "rows/s 1t", "load", "RSS"]
    rows = [[a["artifact"], f"{a['size_bytes']:,}", f"{a['gzip_bytes']:,}", f"{a['metric']:.4f}",
             us_text(a["single_1t"]["p50_us"]), us_text(a["single_1t"]["p99_us"]), us_text(a[f"single_{n_all}t"]["p50_us"]),
             f"{a['batched_1t']['rows_per_s']:,.0f}", f"{a['load_ms']:.1f} ms", f"{a['peak_rss_mb']:.0f} MB"]
            for a in r.artifacts]
    out.append((f"Artifacts on {r.device}", header, rows))
    degenerate = [a["artifact"] for a in r.artifacts if a.get("status") == "degenerate"]
    if degenerate:
        out.append(("Degenerate checks: not validated (the reference's outputs do not vary over the held-out rows)",
                    ["artifact"], [[a] for a in degenerate]))
    rec = r.recommendation
    if rec:
        out.append((f"Recommended for {rec['device']} by this benchmark's numbers", ["artifact", "why"],
                    [[rec["artifact"] or "none", rec["reason"]]]))
    if r.cpu_classes:
        classes = list(dict.fromkeys(cpu for per in r.cpu_classes.values() for cpu in per))
        rows = [[name, *(_class_cell(per.get(cpu)) for cpu in classes)] for name, per in r.cpu_classes.items()]
        hows = {cpu: e["how"] for per in r.cpu_classes.values() for cpu, e in per.items() if e.get("how")}
        out.append(("int8 files by CPU class (metric, drop in points, decision agreement; " +
                    ", ".join(f"{cpu}: {how}" for cpu, how in hows.items()) + ")", ["artifact", *classes], rows))
    out += get_task(r.task).tables(r)
    goals = [[t["target"], t["measured"], t["goal"], {True: "yes", False: "NO", None: "n/a"}[t["met"]]] for t in r.targets]
    out.append(("Targets", ["target", "measured", "goal", "met"], goals))
    return out


def _class_cell(entry: dict | None) -> str:
    if entry is None:
        return ""
    if "metric" not in entry:
        return "not run: " + entry["reason"]
    return (f"{'' if entry['passed'] else 'FAILS '}{entry['metric']:.4f} ({entry['drop_points']:+.2f}, "
            f"{entry['agreement']:.1%})")


def machine_line(r: BenchRecord) -> str:
    m = r.machine
    return (f"{m['cpu']} ({m['arch']}, {m['cores']} cores, flags {', '.join(m['flags']) or 'none'}), "
            f"Python {m['python']}, onnxruntime {m['onnxruntime']}; {r.rows:,} held-out rows; medians")


def markdown(r: BenchRecord) -> str:
    out = [f"Machine: {machine_line(r)}."]
    for title, header, rows in tables(r):
        out += ["", f"**{title}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out)
