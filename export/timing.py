"""Latency, throughput, cold start and peak memory measurement, shared by the benchmark, the tasks'
own benchmarks and the export recommendation."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

import numpy as np


def percentiles(samples: list[float]) -> dict:
    a = np.asarray(samples) * 1e6
    return {"p50_us": float(np.percentile(a, 50)), "p95_us": float(np.percentile(a, 95)),
            "p99_us": float(np.percentile(a, 99)), "calls": len(samples)}


Rows = np.ndarray | dict[str, np.ndarray]  # one input's rows, or a several-input model's, by input name


def count(rows: Rows) -> int:
    return len(next(iter(rows.values()))) if isinstance(rows, dict) else len(rows)


def take(rows: Rows, start: int, stop: int) -> Rows:
    return {k: v[start:stop] for k, v in rows.items()} if isinstance(rows, dict) else rows[start:stop]


def single_row(fn, rows: Rows, calls: int, warmup: int = 20) -> dict:
    """Latency of ``fn`` on one row at a time, cycling through real rows."""
    n = count(rows)
    for i in range(min(warmup, calls)):
        fn(take(rows, i % n, i % n + 1))
    times = []
    for i in range(calls):
        j = i % n
        row = take(rows, j, j + 1)
        t = time.perf_counter()
        fn(row)
        times.append(time.perf_counter() - t)
    return percentiles(times)


def batched(fn, x: Rows, repeats: int) -> dict:
    """Rows per second of ``fn`` on the whole batch (median of ``repeats``)."""
    fn(x)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t)
    median = statistics.median(times)
    return {"rows_per_s": count(x) / median, "batch": count(x), "median_s": median}


def in_subprocess(code: str, *args: str, repeats: int) -> dict:
    """Median cold start and peak RSS (VmHWM) of ``code`` run in fresh interpreters; ``code`` prints the
    seconds to its first result and its peak RSS in bytes on its last line."""
    colds, rss = [], []
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=True)
        cold, peak = out.stdout.strip().splitlines()[-1].split()
        colds.append(float(cold))
        rss.append(int(peak))
    return {"cold_start_s": statistics.median(colds), "peak_rss_mb": statistics.median(rss) / 2**20, "runs": repeats}


def us_text(v: float) -> str:
    """Microseconds for a table: whole ones from 100 up, one decimal below."""
    return f"{v:,.0f} us" if v >= 100 else f"{v:.1f} us"
