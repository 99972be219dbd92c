"""The creditcard.csv schema end to end through the CLI, and the export's parity-failure path."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pandas as pd
import pytest
from conftest import write_creditcard_csv

from edgeward.cli import main
from edgeward.errors import ParityError
from edgeward.export.validate import check_parity
from edgeward.runtime import FraudScorer, Model


def test_creditcard_schema_train_export_score(tmp_path, capsys):
    data, run = tmp_path / "creditcard.csv", tmp_path / "run"
    write_creditcard_csv(data)
    assert main(["train", "fraud", "--data", str(data), "--label", "Class", "--out", str(run), "--epochs", "4"]) == 0
    out = capsys.readouterr().out
    assert "baseline AUPRC" in out and "model    AUPRC" in out
    report = json.loads((run / "train.json").read_text())
    assert report["features"] == [f"V{i}" for i in range(1, 29)] + ["Amount"]  # Time splits, it is no feature
    assert report["data"]["time_column"] == "Time"
    assert report["data"]["split"] == {"train": 2100, "val": 450, "test": 450, "test_frauds": report["data"]["split"]["test_frauds"]}
    assert report["metrics"]["model"]["roc_auc"] > 0.9  # the fixture's frauds are separable

    assert main(["export", str(run)]) == 0
    assert "parity vs Keras on 450 held-out rows" in capsys.readouterr().out
    model = run / "artifacts" / "model.onnx"
    validation = json.loads((run / "validation.json").read_text())["artifacts"][0]
    assert validation["passed"] and validation["max_abs_diff"] <= 1e-5

    assert main(["score", str(model), "--input", str(data), "--out", str(tmp_path / "scores.csv")]) == 0
    assert "3,000 input rows = 3,000 scored + 0 rejected" in capsys.readouterr().out
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert list(scores.columns) == ["line", "Time", "Class", "score", "flag"]
    with FraudScorer.from_file(model) as scorer:
        assert scorer.features == tuple(report["features"])
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


def test_parity_failure_reports_the_numbers(fraud_run, tmp_path):
    proto = onnx.load(fraud_run / "artifacts" / "model.onnx")
    biggest = max(proto.graph.initializer, key=lambda t: np.prod(t.dims))
    weights = onnx.numpy_helper.to_array(biggest).copy()
    weights += 0.05
    biggest.CopyFrom(onnx.numpy_helper.from_array(weights, biggest.name))
    tampered = tmp_path / "tampered.onnx"
    onnx.save(proto, tampered)

    holdout = np.load(fraud_run / "holdout.npz")
    x = holdout["x_test"]
    with Model(fraud_run / "artifacts" / "model.onnx") as good:
        name = good.output_names[0]
        reference = good.run(x)[name]
    with Model(tampered) as bad, pytest.raises(ParityError) as info:
        check_parity(bad, {"features": x}, {name: reference}, tolerance=1e-5)
    message = str(info.value)
    assert f"parity check on {len(x)} held-out rows failed" in message
    assert "max abs diff" in message and "> tolerance 1e-05" in message and "values outside" in message


def test_export_fails_with_numbers_when_outside_tolerance(fraud_run, capsys):
    code = main(["export", str(fraud_run), "--tolerance", "0"])
    err = capsys.readouterr().err
    assert code == 1 and "parity check on" in err and "max abs diff" in err
    validation = json.loads((fraud_run / "validation.json").read_text())["artifacts"][0]
    assert validation["passed"] is False
    assert main(["export", str(fraud_run)]) == 0  # restore the fixture's validation record


def test_export_of_a_directory_that_is_not_a_run(tmp_path, capsys):
    assert main(["export", str(tmp_path)]) == 2
    assert "expected a training run directory with model.keras" in capsys.readouterr().err
