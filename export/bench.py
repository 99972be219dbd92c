"""Benchmark the runtime against Keras on the same held-out rows, in one run, on one thread.

Measures: batched rows/s and single-row p50/p99 latency of the runtime (``FraudScorer``), of a bare
``onnxruntime.InferenceSession.run``, of Keras ``model(x)`` and of ``model.predict``; and, in fresh
subprocesses, cold start (import + load + first score) and peak RSS of the runtime against importing
TensorFlow and running Keras. Medians throughout; the machine is shared, so compare within a run.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BENCH_FILE = "bench.json"


@dataclass(frozen=True)
class BenchOptions:
    threads: int = 1
    single_rows: int = 2000  # single-row calls timed for the runtime and bare onnxruntime
    keras_single_rows: int = 200  # Keras model(x) is ~100x slower: fewer calls
    predict_single_rows: int = 30
    batch_repeats: int = 7
    cold_repeats: int = 5


def _percentiles(samples: list[float]) -> dict:
    a = np.asarray(samples) * 1e6
    return {"p50_us": float(np.percentile(a, 50)), "p99_us": float(np.percentile(a, 99)), "calls": len(samples)}


def _single(fn, rows: np.ndarray, n: int) -> dict:
    for i in range(min(20, n)):
        fn(rows[i : i + 1])
    times = []
    for i in range(n):
        row = rows[i % len(rows) : i % len(rows) + 1]
        t = time.perf_counter()
        fn(row)
        times.append(time.perf_counter() - t)
    return _percentiles(times)


def _batched(fn, x: np.ndarray, repeats: int) -> dict:
    fn(x)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t)
    median = statistics.median(times)
    return {"rows_per_s": len(x) / median, "batch": len(x), "median_s": median}


_RUNTIME_COLD = """
import sys, time
t0 = time.perf_counter()
import numpy as np
from edgeward.runtime import FraudScorer
scorer = FraudScorer.from_file(sys.argv[1], threads=1)
scorer.score(np.load(sys.argv[2])["x_test"][:1])
cold = time.perf_counter() - t0
scorer.score(np.load(sys.argv[2])["x_test"])
print(cold, [int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM")][0])
"""

_TF_COLD = """
import os, sys, time
os.environ["TF_USE_LEGACY_KERAS"] = "1"; os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
t0 = time.perf_counter()
import tensorflow as tf
cold = time.perf_counter() - t0
tf.config.threading.set_intra_op_parallelism_threads(1); tf.config.threading.set_inter_op_parallelism_threads(1)
import numpy as np, tf_keras
model = tf_keras.models.load_model(sys.argv[1], compile=False)
model.predict(np.load(sys.argv[2])["x_test"], batch_size=4096, verbose=0)
print(cold, [int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM")][0])
"""


def _subprocess(code: str, *args: str, repeats: int) -> dict:
    colds, rss = [], []
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=True)
        cold, peak = out.stdout.strip().splitlines()[-1].split()
        colds.append(float(cold))
        rss.append(int(peak))
    return {"cold_start_s": statistics.median(colds), "peak_rss_mb": statistics.median(rss) / 2**20, "runs": repeats}


def machine() -> dict:
    from edgeward.devices import detect

    host = detect()
    return {"cpu": host.cpu_model, "arch": host.arch, "cores": host.cores, "flags": list(host.cpu_flags),
            "python": platform.python_version(), "os": platform.platform(terse=True)}


def bench_fraud(run_dir: str | os.PathLike, options: BenchOptions = BenchOptions(), progress: bool = False) -> dict:
    import onnxruntime as ort
    from tqdm import tqdm

    from edgeward.runtime import FraudScorer
    from edgeward.train.fraud import HOLDOUT_FILE, MODEL_FILE

    run = Path(run_dir)
    artifact = run / "artifacts" / "model.onnx"
    if not artifact.exists():
        from edgeward.errors import InputError

        raise InputError(f"{artifact}: not found; run `edgeward export {run}` first")
    holdout = str(run / HOLDOUT_FILE)
    x = np.load(holdout)["x_test"]
    steps = tqdm(total=8, desc="benchmark", disable=not progress, leave=False)
    results: dict = {"machine": machine(), "threads": options.threads, "rows": len(x), "model": str(artifact)}

    scorer = FraudScorer.from_file(artifact, threads=options.threads)
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = options.threads, 1
    session = ort.InferenceSession(str(artifact), so, providers=["CPUExecutionProvider"])
    out_name, in_name = session.get_outputs()[0].name, session.get_inputs()[0].name

    def bare(batch):
        return session.run([out_name], {in_name: batch})

    results["runtime"] = {"batched": _batched(scorer.score, x, options.batch_repeats),
                          "single": _single(scorer.score, x, options.single_rows)}
    steps.update(2)
    results["onnxruntime_bare"] = {"batched": _batched(bare, x, options.batch_repeats),
                                   "single": _single(bare, x, options.single_rows)}
    steps.update(2)

    from edgeward.train.tf_env import keras, tensorflow

    tf = tensorflow()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(options.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow already initialised in this process: thread counts are fixed
        results["keras_threads_note"] = "TensorFlow was initialised before the benchmark; thread count not forced"
    model = keras().models.load_model(run / MODEL_FILE, compile=False)

    def eager(batch):
        return model(batch, training=False).numpy()

    def predict(batch):
        return model.predict(batch, batch_size=len(batch), verbose=0)

    results["keras_call"] = {"batched": _batched(eager, x, 3), "single": _single(eager, x, options.keras_single_rows)}
    steps.update(1)
    results["keras_predict"] = {"batched": _batched(predict, x, 3),
                                "single": _single(predict, x, options.predict_single_rows)}
    steps.update(1)
    results["cold_runtime"] = _subprocess(_RUNTIME_COLD, str(artifact), holdout, repeats=options.cold_repeats)
    steps.update(1)
    results["cold_tensorflow"] = _subprocess(_TF_COLD, str(run / MODEL_FILE), holdout, repeats=options.cold_repeats)
    steps.update(1)
    steps.close()
    scorer.close()
    results["targets"] = targets(results)
    (run / BENCH_FILE).write_text(json.dumps(results, indent=2))
    return results


def targets(r: dict) -> list[dict]:
    ratio = r["cold_tensorflow"]["cold_start_s"] / r["cold_runtime"]["cold_start_s"]
    overhead = r["runtime"]["single"]["p50_us"] / r["onnxruntime_bare"]["single"]["p50_us"]
    rows = [
        ("batched rows/s (1 thread)", r["runtime"]["batched"]["rows_per_s"], ">= 500,000", r["runtime"]["batched"]["rows_per_s"] >= 500_000),
        ("single-row p99 latency", r["runtime"]["single"]["p99_us"], "<= 100 us", r["runtime"]["single"]["p99_us"] <= 100),
        ("cold start: TF import / runtime", ratio, ">= 10x", ratio >= 10),
        ("runtime / bare onnxruntime p50", overhead, "(reported)", None),
    ]
    return [{"target": t, "measured": v, "goal": g, "met": m} for t, v, g, m in rows]


def tables(r: dict) -> list[tuple[list[str], list[list[str]]]]:
    """The benchmark as (header, rows) tables, shared by the terminal, README and HTML report."""
    names = {"runtime": "edgeward runtime (FraudScorer)", "onnxruntime_bare": "bare onnxruntime session.run",
             "keras_call": "Keras model(x)", "keras_predict": "Keras model.predict"}
    speed = [[name, f"{r[k]['batched']['rows_per_s']:,.0f}", _us(r[k]["single"]["p50_us"]), _us(r[k]["single"]["p99_us"])]
             for k, name in names.items()]
    cold = [
        ["edgeward runtime: import + load + first score", f"{r['cold_runtime']['cold_start_s'] * 1000:,.0f} ms",
         f"{r['cold_runtime']['peak_rss_mb']:,.0f} MB"],
        ["TensorFlow: import (RSS: + Keras load and predict)", f"{r['cold_tensorflow']['cold_start_s'] * 1000:,.0f} ms",
         f"{r['cold_tensorflow']['peak_rss_mb']:,.0f} MB"],
    ]
    goals = []
    for t in r["targets"]:
        v, name = t["measured"], t["target"]
        shown = f"{v:,.0f}" if v >= 1000 else f"{v:.1f}x" if "/" in name else f"{v:.1f} us"
        goals.append([name, shown, t["goal"], {True: "yes", False: "NO", None: "-"}[t["met"]]])
    return [
        (["engine", "batched rows/s", "single-row p50", "single-row p99"], speed),
        (["process", "cold start", "peak RSS"], cold),
        (["target", "measured", "goal", "met"], goals),
    ]


def machine_line(r: dict) -> str:
    m = r["machine"]
    return (f"{m['cpu']} ({m['arch']}, {m['cores']} cores, flags {', '.join(m['flags']) or 'none'}), "
            f"Python {m['python']}; {r['threads']} thread; {r['rows']:,} held-out rows")


def markdown(r: dict) -> str:
    """The benchmark as Markdown tables (terminal, README)."""
    out = [f"Machine: {machine_line(r)}."]
    for header, rows in tables(r):
        out += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out)


def _us(v: float) -> str:
    return f"{v:,.0f} us" if v >= 100 else f"{v:.1f} us"
