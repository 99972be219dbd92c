from __future__ import annotations

import json

from edgeward.export.bench import BenchOptions, bench_fraud, markdown
from edgeward.report import write_report


def test_bench_measures_everything_and_writes_json(fraud_run):
    r = bench_fraud(fraud_run, BenchOptions(single_rows=50, keras_single_rows=5, predict_single_rows=2,
                                            batch_repeats=2, cold_repeats=1))
    for key in ("runtime", "onnxruntime_bare", "keras_call", "keras_predict"):
        assert r[key]["batched"]["rows_per_s"] > 0 and r[key]["single"]["p99_us"] >= r[key]["single"]["p50_us"] > 0
    assert r["cold_runtime"]["peak_rss_mb"] > 0 and r["cold_tensorflow"]["cold_start_s"] > 0
    assert {t["target"] for t in r["targets"]} >= {"batched rows/s (1 thread)", "single-row p99 latency"}
    assert json.loads((fraud_run / "bench.json").read_text())["rows"] == r["rows"]
    text = markdown(r)
    assert "| edgeward runtime (FraudScorer) |" in text and "Machine:" in text


def test_report_is_self_contained_html_with_plots(fraud_run):
    path = write_report(fraud_run)
    html = path.read_text()
    assert html.startswith("<!doctype html>") and html.count("<svg") == 2
    assert "Precision-recall" in html and "HistGradientBoosting baseline" in html
    assert "<script" not in html and "<link" not in html and "src=\"http" not in html
