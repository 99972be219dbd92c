"""The runtime against Keras on the same held-out rows, one thread, in one run.

Batched rows/s and single-row p50/p99 of the runtime (``FraudScorer``), of a bare
``onnxruntime.InferenceSession.run``, of Keras ``model(x)`` and of ``model.predict``; and, in fresh
subprocesses, cold start (import + load + first score) and peak RSS of the runtime against importing
TensorFlow and running Keras. Medians throughout.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

from edgeward.export.timing import batched, single_row

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


def in_subprocess(code: str, *args: str, repeats: int) -> dict:
    """Median cold start and peak RSS (VmHWM) of ``code`` run in fresh interpreters."""
    colds, rss = [], []
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=True)
        cold, peak = out.stdout.strip().splitlines()[-1].split()
        colds.append(float(cold))
        rss.append(int(peak))
    return {"cold_start_s": statistics.median(colds), "peak_rss_mb": statistics.median(rss) / 2**20, "runs": repeats}


def bench_vs_keras(run: Path, artifact: Path, holdout: Path, options, step=lambda: None) -> dict:
    import onnxruntime as ort

    from edgeward.runtime import FraudScorer
    from edgeward.train.tf_env import keras, tensorflow

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
    model = keras().models.load_model(run / "model.keras", compile=False)
    out["keras_call"] = {"batched": batched(lambda b: model(b, training=False).numpy(), x, 3),
                         "single": single_row(lambda b: model(b, training=False).numpy(), x, options.keras_single_rows)}
    out["keras_predict"] = {"batched": batched(lambda b: model.predict(b, batch_size=len(b), verbose=0), x, 3),
                            "single": single_row(lambda b: model.predict(b, batch_size=len(b), verbose=0), x,
                                                 options.predict_single_rows)}
    step()
    out["cold_runtime"] = in_subprocess(_RUNTIME_COLD, str(artifact), str(holdout), repeats=options.cold_repeats)
    out["cold_tensorflow"] = in_subprocess(_TF_COLD, str(run / "model.keras"), str(holdout), repeats=options.cold_repeats)
    step()
    return out
