"""A task edgeward does not ship (``tests/toy_task.py``) gets ``run``, ``serve`` (KServe v2 and a route of its own),
``batch`` and the parity check across machines by registering its spec and its runtime class: one entry in each
registry, no other file touched."""

from __future__ import annotations

import inspect
import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

import toy_task
from edgeward.app.cli import main
from edgeward.core import registry as specs
from edgeward.runtime import registry as runtimes
from serving import get, post, running

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def toy_model(fraud_model, tmp_path, monkeypatch):
    """The toy task registered, and a model of it: the fraud toy's network, its manifest's task renamed."""
    from edgeward.core.seal import UNSEALED, seal
    from edgeward.export.onnx_export import with_manifest
    from edgeward.runtime.engine.embedded import manifest_of

    monkeypatch.setitem(specs.TASKS, toy_task.NAME, "toy_task:ToyTask")
    monkeypatch.setitem(runtimes.RUNTIMES, toy_task.NAME, "toy_task:ToyScorer")
    data = fraud_model.read_bytes()
    manifest = manifest_of(data, str(fraud_model))
    unsealed = replace(manifest, task=toy_task.NAME, provenance=replace(manifest.provenance, artifact_sha256=UNSEALED))
    path = tmp_path / "toy.onnx"
    path.write_bytes(seal(with_manifest(data, unsealed)))
    return path


@pytest.fixture
def rows(fraud_csv, tmp_path) -> Path:
    path = tmp_path / "rows.csv"
    pd.read_csv(fraud_csv, nrows=40).to_csv(path, index=False)
    return path


def test_the_toy_task_needs_one_file_and_a_line_in_each_registry(toy_model):
    files = {Path(inspect.getfile(cls)).relative_to(ROOT) for cls in (toy_task.ToyTask, toy_task.ToyScorer)}
    assert files == {Path("tests/toy_task.py")}
    assert specs.get_task("toy").name == "toy" and runtimes.runtime_class("toy") is toy_task.ToyScorer


def test_run_plays_a_live_source_through_the_toy_task(toy_model, rows, capsys):
    assert main(["run", "toy", str(toy_model), "--source", str(rows), "--json", "--rows", "5"]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["row"] for r in out] == [0, 1, 2, 3, 4] and all(0.0 <= r["score"] <= 1.0 for r in out)


def test_batch_scores_rows_with_the_toy_runtime(toy_model, rows, tmp_path):
    from edgeward.runtime.services.batch import run_batch

    summary = run_batch(str(toy_model), str(rows), tmp_path / "out")
    scores = pd.read_parquet(tmp_path / "out" / "scores")
    assert summary.rows == summary.scored == 40 and len(scores) == 40 and scores["score"].between(0, 1).all()


def test_serve_gives_kserve_and_the_toy_route(toy_model, rows):
    x = pd.read_csv(rows).drop(columns=["is_fraud"], errors="ignore")
    with running([str(toy_model)]) as url:
        models = json.loads(get(url, "/models")[1])["models"]
        assert [(m["name"], m["task"]) for m in models] == [("toy", "toy")]
        features = models[0]["features"]
        status, answer = post(url, "/toy/mean", x[features].to_numpy().tolist())
        assert status == 200 and answer["rows"] == 40 and 0.0 <= answer["mean"] <= 1.0
        status, answer = post(url, "/v2/models/toy/infer", {"inputs": [
            {"name": models[0]["inputs"][0]["name"], "shape": [2, len(features)], "datatype": "FP32",
             "data": x[features].to_numpy()[:2].reshape(-1).tolist()}]})
        assert status == 200 and answer["outputs"][0]["shape"][0] == 2


def test_the_parity_check_runs_the_toy_task(toy_model, rows, tmp_path):
    """The worker half of ``make arm64-check`` on this host: the toy runtime's own results and comparison (the
    emulated half is ``make arm64-check``, which CI runs)."""
    from edgeward.runtime.services import parity

    spec = {"artifacts": [{"task": "toy", "artifact": str(toy_model), "name": "toy.onnx", "input": str(rows),
                           "int8": False}], "profile_model": str(toy_model)}
    parity.run(spec, tmp_path / "here.json")
    here = json.loads((tmp_path / "here.json").read_text())
    assert len(here["artifacts"][0]["scores"]) == 40
    import numpy as np

    raw = np.load(tmp_path / "here.npz")
    [row] = parity.compare(here, here, raw, raw, names=("here", "again"))
    assert row["ok"] and row["decisions"] == "40 rows on here and again, 0 differ"
