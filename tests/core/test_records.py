"""The validation and benchmark records: typed, versioned, read and written through ``RunDir``; files written before
they had a schema still load; a damaged or foreign file is a one-line error naming it."""

from __future__ import annotations

import json
import re

import pytest

from edgeward.core.errors import InputError
from edgeward.core.records import ArtifactCheck, BenchRecord, ExportFailure, ValidationRecord
from edgeward.core.rundir import RunDir

CHECK = {"artifact": "model-int8.onnx", "format": "onnx", "precision": "int8", "source": "base", "method": "ort-static",
         "size_bytes": 4096, "rows": 500, "max_abs_diff": 0.01, "metric_name": "auprc", "metric": 0.81,
         "reference_metric": 0.82, "drop_points": 1.0, "agreement": 0.99, "check": "metric drop", "budget": 1.0,
         "passed": True, "reason": "", "degenerate": "", "cpu": {"avx2": {"passed": True, "drop_points": 1.0}}}
# as export wrote it before the record had a schema: no schema field, a failed export as a bare entry
OLD_VALIDATION = {"artifacts": [CHECK, {"artifact": "model-fp16.tflite", "passed": False, "reason": "converter: no"}],
                  "search": [{"method": "per-channel minmax", "drop_points": 1.0, "passed": True}],
                  "recommendation": {"device": "x86-64-cpu", "artifact": "model-int8.onnx", "reason": "fastest"},
                  "targets": {"cpu": ["avx2"], "checked": ["avx2"]}}
ROW = {"artifact": "model.onnx", "format": "onnx", "precision": "fp32", "single_1t": {"p50_us": 30.0}}
# as the benchmark wrote it before: the task's results (here a detector's) beside the common fields
OLD_BENCH = {"machine": {"cpu": "x"}, "device": "x86-64-cpu", "threads_all": 2, "rows": 500, "artifacts": [ROW],
             "task": "detect", "overhead": {"ratio": 1.01}, "recommendation": None, "targets": [],
             "params": 90_000, "video": [{"artifact": "model.onnx", "fps": 300.0}]}


def test_unversioned_files_load_and_are_written_back_versioned(tmp_path):
    run = RunDir(tmp_path)
    run.validation_file.write_text(json.dumps(OLD_VALIDATION))
    run.bench_file.write_text(json.dumps(OLD_BENCH))
    validation = run.validation()
    assert isinstance(validation.artifacts[0], ArtifactCheck) and isinstance(validation.artifacts[1], ExportFailure)
    assert [c.artifact for c in validation.checks] == ["model-int8.onnx"] and validation.checks[0].usable
    assert validation.by_name()["model-int8.onnx"].cpu["avx2"]["passed"] and validation.search[0]["passed"]
    bench = run.bench()
    assert bench.task == "detect" and bench.row("model.onnx") == ROW and bench.overhead == {"ratio": 1.01}
    assert bench.payload == {"params": 90_000, "video": [{"artifact": "model.onnx", "fps": 300.0}]}
    run.write_validation(validation)
    run.write_bench(bench)
    assert json.loads(run.validation_file.read_text())["schema"] == 1 and run.validation() == validation
    assert json.loads(run.bench_file.read_text())["payload"]["params"] == 90_000 and run.bench() == bench


def test_a_run_without_records_has_an_empty_validation_and_no_bench(tmp_path):
    run = RunDir(tmp_path)
    assert not run.has_validation() and run.validation() == ValidationRecord() and run.bench() is None


@pytest.mark.parametrize("text, says", [
    ("{not json", "validation.json: not valid JSON"),
    ("[1, 2]", "validation.json: expected a JSON object, got list"),
    (json.dumps({**OLD_VALIDATION, "schema": 7}), "validation.json: validation record schema 7 is not supported"),
    (json.dumps({"artifacts": {"a": 1}}), "validation.json: field 'artifacts': expected a list, got dict"),
    (json.dumps({"artifacts": [CHECK, {"passed": False}]}),
     "validation.json: artifacts[1]: field 'artifact' is missing"),
])
def test_a_damaged_validation_record_is_a_one_line_error_naming_the_file(tmp_path, text, says):
    run = RunDir(tmp_path)
    run.validation_file.write_text(text)
    with pytest.raises(InputError, match="^" + str(tmp_path / says).replace("[", r"\[").replace("]", r"\]")) as err:
        run.validation()
    assert "\n" not in str(err.value)


def test_a_benchmark_record_of_a_newer_schema_or_without_its_fields_is_refused(tmp_path):
    run = RunDir(tmp_path)
    run.bench_file.write_text(json.dumps({**OLD_BENCH, "schema": 2}))
    with pytest.raises(InputError, match="bench.json: benchmark record schema 2 is not supported"):
        run.bench()
    run.bench_file.write_text(json.dumps({k: v for k, v in OLD_BENCH.items() if k != "device"}))
    with pytest.raises(InputError, match="bench.json: field 'device' is missing"):
        run.bench()


def test_an_oversized_record_is_refused_before_it_is_read(tmp_path, monkeypatch):
    import edgeward.core.rundir as rundir

    monkeypatch.setattr(rundir, "RECORD_LIMIT", 1000)
    run = RunDir(tmp_path)
    run.validation_file.write_text(json.dumps({**OLD_VALIDATION, "search": [{"method": "x" * 2000}]}))
    with pytest.raises(InputError, match=r"validation.json: 2,\d\d\d bytes; expected a validation record of at most 1,000$"):
        run.validation()


def test_bench_record_rows_are_found_by_artifact():
    bench = BenchRecord(task="fraud", machine={}, device="x86-64-cpu", threads_all=2, rows=1, artifacts=[ROW])
    assert bench.row("model.onnx") is ROW and bench.row("model-int8.onnx") is None


def test_export_and_bench_options_refuse_what_the_cli_refuses_in_the_same_words(capsys):
    """One config style: the API's options check themselves, and the CLI's flags reach those checks."""
    from edgeward.app.cli import main
    from edgeward.core.errors import ConfigError
    from edgeward.export.bench import BenchOptions
    from edgeward.export.engine import ExportOptions
    from edgeward.export.validate import Budget

    with pytest.raises(ConfigError, match=r"^single_rows \(--single-rows\): expected a whole number >= 1, got 0$"):
        BenchOptions(single_rows=0)
    assert main(["bench", "runs/none", "--single-rows", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: single_rows (--single-rows): expected a whole number >= 1, got 0"
    with pytest.raises(ConfigError, match=r"^fp32_tolerance \(--tolerance\): expected a number >= 0, got -1.0$"):
        Budget(fp32_tolerance=-1.0)
    assert main(["export", "runs/none", "--tolerance", "-1"]) == 2
    assert capsys.readouterr().err.strip() == "error: fp32_tolerance (--tolerance): expected a number >= 0, got -1.0"
    with pytest.raises(ConfigError, match="max_drop"):
        Budget(max_drop=float("nan"))
    for bad, says in (({"specs": ()}, "specs: expected a non-empty tuple"), ({"calibration_rows": 0}, "calibration_rows"),
                      ({"targets": ("avx2",)}, "targets (--targets): expected CPU classes")):
        with pytest.raises(ConfigError, match=re.escape(says)):
            ExportOptions(**bad)
