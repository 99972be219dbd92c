"""Latency and throughput measurement shared by the benchmark and the export recommendation."""

from __future__ import annotations

import statistics
import time

import numpy as np


def percentiles(samples: list[float]) -> dict:
    a = np.asarray(samples) * 1e6
    return {"p50_us": float(np.percentile(a, 50)), "p95_us": float(np.percentile(a, 95)),
            "p99_us": float(np.percentile(a, 99)), "calls": len(samples)}


def single_row(fn, rows: np.ndarray, calls: int, warmup: int = 20) -> dict:
    """Latency of ``fn`` on one row at a time, cycling through real rows."""
    for i in range(min(warmup, calls)):
        fn(rows[i % len(rows) : i % len(rows) + 1])
    times = []
    for i in range(calls):
        j = i % len(rows)
        row = rows[j : j + 1]
        t = time.perf_counter()
        fn(row)
        times.append(time.perf_counter() - t)
    return percentiles(times)


def batched(fn, x: np.ndarray, repeats: int) -> dict:
    """Rows per second of ``fn`` on the whole batch (median of ``repeats``)."""
    fn(x)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t)
    median = statistics.median(times)
    return {"rows_per_s": len(x) / median, "batch": len(x), "median_s": median}
