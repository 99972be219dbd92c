"""The creditcard.csv schema end to end through the CLI, and the export's parity-failure path."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pandas as pd
import pytest
from conftest import write_creditcard_csv

from edgeward.app.cli import main
from edgeward.core.errors import ParityError
from edgeward.core.rundir import RunDir
from edgeward.export.validate import check_outputs, raise_failures
from edgeward.runtime import FraudScorer, Model
from edgeward.train.metrics import auprc


def test_creditcard_schema_train_export_score(tmp_path, capsys):
    data, run = tmp_path / "creditcard.csv", tmp_path / "run"
    write_creditcard_csv(data)
    assert main(["train", "fraud", "--data", str(data), "--label", "Class", "--out", str(run), "--epochs", "4"]) == 0
    out = capsys.readouterr().out
    assert "baseline AUPRC" in out and "model    AUPRC" in out
    record = RunDir(run).record()
    assert record.payload.features == [f"V{i}" for i in range(1, 29)] + ["Amount"]  # Time splits, it is no feature
    assert record.payload.time_column == "Time"
    assert record.data.split == {"train": 2100, "val": 450, "test": 450}
    assert record.metrics["model"]["roc_auc"] > 0.9  # the fixture's frauds are separable

    assert main(["export", str(run)]) == 0
    assert "model.onnx" in capsys.readouterr().out
    model = run / "artifacts" / "model.onnx"
    validation = json.loads((run / "validation.json").read_text())["artifacts"][0]
    assert validation["passed"] and validation["max_abs_diff"] <= 1e-5 and validation["rows"] == 450

    assert main(["score", str(model), "--input", str(data), "--out", str(tmp_path / "scores.csv")]) == 0
    assert "3,000 input rows = 3,000 scored + 0 rejected" in capsys.readouterr().out
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert list(scores.columns) == ["line", "Time", "Class", "score", "flag"]
    with FraudScorer.from_file(model) as scorer:
        assert scorer.features == tuple(record.payload.features)
        np.testing.assert_allclose(scores.score, scorer.score(pd.read_csv(data)), atol=1e-6)


def test_train_cli_reports_bad_data_in_one_line(tmp_path, capsys):
    data = tmp_path / "creditcard.csv"
    write_creditcard_csv(data, rows=200)
    lines = data.read_text().splitlines()
    lines[57] = lines[57].replace(lines[57].split(",")[29], "abc", 1)
    data.write_text("\n".join(lines) + "\n")
    assert main(["train", "fraud", "--data", str(data), "--label", "Class", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {data} line 58, field 'Amount': expected a finite number, got 'abc'"


def test_parity_failure_reports_the_numbers(fraud_run):
    """A wrong artifact (its weights tampered with) fails the check with the numbers."""
    proto = onnx.load(fraud_run / "artifacts" / "model.onnx")
    biggest = max(proto.graph.initializer, key=lambda t: np.prod(t.dims))
    weights = onnx.numpy_helper.to_array(biggest).copy() + 0.05
    biggest.CopyFrom(onnx.numpy_helper.from_array(weights, biggest.name))
    holdout = np.load(fraud_run / "holdout.npz")
    x, y = holdout["x_test"], holdout["y_test"]
    with Model(fraud_run / "artifacts" / "model.onnx") as good, Model(proto.SerializeToString()) as bad:
        name = good.output_names[0]
        reference, tampered = good.run(x)[name], bad.run(x)[name]
    check = check_outputs(tampered, reference, reference, y, auprc, lambda p: p.reshape(-1) >= 0.5, True, 1e-5, 1.0,
                          artifact="tampered.onnx", format="onnx", precision="fp32", source="base", method="test", size_bytes=0)
    assert not check.passed and check.max_abs_diff > 1e-5
    assert check.reason.startswith("max abs diff ") and check.reason.endswith(" > 1e-05")
    with pytest.raises(ParityError, match=r"1 artifact\(s\) outside their budget or not exported: tampered.onnx: max abs diff"):
        raise_failures([check], {})


def test_export_fails_with_numbers_when_outside_tolerance(fraud_run, capsys):
    code = main(["export", str(fraud_run), "--tolerance", "0"])
    captured = capsys.readouterr()
    assert code == 1 and "model.onnx: max abs diff" in captured.err and "> 0" in captured.err
    assert "FAILED" in captured.out  # the table of every check is printed before the error
    validation = json.loads((fraud_run / "validation.json").read_text())["artifacts"]
    assert next(a for a in validation if a["artifact"] == "model.onnx")["passed"] is False
    assert main(["export", str(fraud_run)]) == 0  # restore the fixture's validation record


def test_export_of_a_directory_that_is_not_a_run(tmp_path, capsys):
    assert main(["export", str(tmp_path)]) == 2
    assert "expected a training run directory with train.json, got none" in capsys.readouterr().err
