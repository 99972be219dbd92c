"""The fraud task's own benchmark: the runtime against Keras on the same held-out rows, one thread, in one run.

Batched rows/s and single-row p50/p99 of the runtime (``FraudScorer``), of a bare
``onnxruntime.InferenceSession.run``, of Keras ``model(x)`` and of ``model.predict``; and, in fresh
subprocesses, cold start (import + load + first score) and peak RSS of the runtime against importing
TensorFlow and running Keras. Medians throughout.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeward.core.records import BenchRecord, ValidationRecord
from edgeward.export.timing import batched, in_subprocess, single_row, us_text

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


def bench_vs_keras(keras_model: Path, artifact: Path, holdout: Path, options, step=lambda: None) -> dict:
    import onnxruntime as ort

    from edgeward.core.keras_env import tensorflow, tf_keras
    from edgeward.runtime import FraudScorer

    x = np.load(holdout)["x_test"]
    out: dict = {}
    scorer = FraudScorer.from_file(artifact, threads=1)
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = 1, 1
    session = ort.InferenceSession(str(artifact), so, providers=["CPUExecutionProvider"])
    out_name, in_name = session.get_outputs()[0].name, session.get_inputs()[0].name

    def bare(batch):
        return session.run([out_name], {in_name: batch})

    out["runtime"] = {"batched": batched(scorer.score, x, options.batch_repeats),
                      "single": single_row(scorer.score, x, options.single_rows)}
    out["onnxruntime_bare"] = {"batched": batched(bare, x, options.batch_repeats),
                               "single": single_row(bare, x, options.single_rows)}
    scorer.close()
    step()
    tf = tensorflow()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow already initialised in this process: thread counts are fixed
        out["keras_threads_note"] = "TensorFlow was initialised before the benchmark; thread count not forced"
    model = tf_keras().models.load_model(keras_model, compile=False)
    out["keras_call"] = {"batched": batched(lambda b: model(b, training=False).numpy(), x, 3),
                         "single": single_row(lambda b: model(b, training=False).numpy(), x, options.keras_single_rows)}
    out["keras_predict"] = {"batched": batched(lambda b: model.predict(b, batch_size=len(b), verbose=0), x, 3),
                            "single": single_row(lambda b: model.predict(b, batch_size=len(b), verbose=0), x,
                                                 options.predict_single_rows)}
    step()
    out["cold_runtime"] = in_subprocess(_RUNTIME_COLD, str(artifact), str(holdout), repeats=options.cold_repeats)
    out["cold_tensorflow"] = in_subprocess(_TF_COLD, str(keras_model), str(holdout), repeats=options.cold_repeats)
    step()
    return out


def bench_score_file(model: Path, csv_path: Path, repeats: int = 3) -> dict:
    """``edgeward score`` from a CSV file to a scores file, one thread: rows per second (median of ``repeats``)."""
    import statistics
    import tempfile
    import time

    from edgeward.runtime import FraudScorer, score_csv

    speeds = []
    with FraudScorer.from_file(model, threads=1) as scorer, tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            started = time.perf_counter()
            s = score_csv(scorer, csv_path, Path(tmp) / "scores.csv")
            speeds.append(s.rows / (time.perf_counter() - started))
    return {"rows": s.rows, "rows_per_s": statistics.median(speeds), "file_mb": csv_path.stat().st_size / 1e6}


def targets(r: BenchRecord, validation: ValidationRecord) -> list[tuple]:
    rows = []
    f = r.payload.get("score_file")
    if f:
        rows.append(("score: CSV file to scores file, 1 thread", f"{f['rows_per_s']:,.0f} rows/s", ">= 300,000 rows/s",
                     f["rows_per_s"] >= 300_000))
    k = r.payload.get("vs_keras")
    if not k:
        return rows
    ratio = k["cold_tensorflow"]["cold_start_s"] / k["cold_runtime"]["cold_start_s"]
    return rows + [("batched rows/s, runtime (1 thread)", f"{k['runtime']['batched']['rows_per_s']:,.0f}", ">= 500,000",
             k["runtime"]["batched"]["rows_per_s"] >= 500_000),
            ("single-row p99 latency, runtime", f"{k['runtime']['single']['p99_us']:.1f} us", "<= 100 us",
             k["runtime"]["single"]["p99_us"] <= 100),
            ("cold start: TF import / runtime", f"{ratio:.1f}x", ">= 10x", ratio >= 10)]


def tables(r: BenchRecord) -> list[tuple[str, list[str], list[list[str]]]]:
    k = r.payload.get("vs_keras")
    if not k:
        return []
    names = {"runtime": "edgeward runtime (FraudScorer)", "onnxruntime_bare": "bare onnxruntime session.run",
             "keras_call": "Keras model(x)", "keras_predict": "Keras model.predict"}
    speed = [[name, f"{k[key]['batched']['rows_per_s']:,.0f}", us_text(k[key]["single"]["p50_us"]), us_text(k[key]["single"]["p99_us"])]
             for key, name in names.items()]
    cold = [["edgeward runtime: import + load + first score", f"{k['cold_runtime']['cold_start_s'] * 1000:,.0f} ms",
             f"{k['cold_runtime']['peak_rss_mb']:,.0f} MB"],
            ["TensorFlow: import (RSS: + Keras load and predict)", f"{k['cold_tensorflow']['cold_start_s'] * 1000:,.0f} ms",
             f"{k['cold_tensorflow']['peak_rss_mb']:,.0f} MB"]]
    return [("Runtime vs Keras (fp32, 1 thread)", ["engine", "batched rows/s", "single-row p50", "single-row p99"], speed),
            ("Cold start and memory (fresh processes)", ["process", "cold start", "peak RSS"], cold)]
