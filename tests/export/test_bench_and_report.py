from __future__ import annotations

import csv
import json

from edgeward.core.rundir import RunDir
from edgeward.app.report import write_report
from edgeward.export.bench import BenchOptions, bench_run, markdown

FAST = BenchOptions(single_rows=50, keras_single_rows=5, predict_single_rows=2, batch_repeats=2, load_repeats=2, cold_repeats=1)


def test_bench_measures_every_artifact_and_the_runtime_vs_keras(fraud_run):
    r = bench_run(fraud_run, FAST)
    names = [a["artifact"] for a in r.artifacts]
    assert "model.onnx" in names
    for a in r.artifacts:
        assert a["size_bytes"] > a["gzip_bytes"] > 0 and a["load_ms"] > 0 and a["peak_rss_mb"] > 0
        s = a["single_1t"]
        assert s["p99_us"] >= s["p95_us"] >= s["p50_us"] > 0 and a["batched_1t"]["rows_per_s"] > 0
        assert f"single_{r.threads_all}t" in a
        assert a["execution"] == "run"  # a CPU profile binds nothing (a GPU profile's would say IO binding)
    k = r.payload["vs_keras"]
    for key in ("runtime", "onnxruntime_bare", "keras_call", "keras_predict"):
        assert k[key]["batched"]["rows_per_s"] > 0 and k[key]["single"]["p99_us"] >= k[key]["single"]["p50_us"] > 0
    assert k["cold_runtime"]["peak_rss_mb"] > 0 and k["cold_tensorflow"]["cold_start_s"] > 0
    assert r.overhead["bare_p50_us"] > 0
    targets = {t["target"] for t in r.targets}
    assert {"batched rows/s, runtime (1 thread)", "single-row p99 latency, runtime"} <= targets
    assert json.loads((fraud_run / "bench.json").read_text())["rows"] == r.rows
    assert RunDir(fraud_run).bench() == r  # written and read back through the run directory
    rows = list(csv.DictReader((fraud_run / "bench.csv").open()))
    assert [row["artifact"] for row in rows] == names and float(rows[0]["p50_us_1t"]) > 0
    text = markdown(r)
    assert "| edgeward runtime (FraudScorer) |" in text and "Machine:" in text and "| model.onnx |" in text


def test_report_is_self_contained_html_with_plots(fraud_run):
    bench_run(fraud_run, BenchOptions(single_rows=20, batch_repeats=1, load_repeats=1, vs_keras=False))
    html = write_report(fraud_run).read_text()
    assert html.startswith("<!doctype html>") and html.count("<svg") == 3  # PR curves, training, size vs latency
    assert "Precision-recall" in html and "HistGradientBoosting baseline" in html and "Export and validation" in html
    assert "<script" not in html and "<link" not in html and "src=\"http" not in html
