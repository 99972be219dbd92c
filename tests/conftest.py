"""Shared fixtures, each made once per session: a tiny simulated fraud run and a creditcard.csv-schema file, and
tiny detection and voice-commands runs (far too short-trained to be good: they test the plumbing)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import pytest


def built_once(factory, name: str, build: Callable[[Path], None]) -> Path:
    """``build(path)`` run once per test session, also when pytest-xdist runs the tests in several workers: the first
    worker to need it builds it under a lock in the folder all workers share, and every worker gets its own copy
    (tests may change what they are given, as they may in one process)."""
    here = factory.mktemp(name) / name
    if "PYTEST_XDIST_WORKER" not in os.environ:
        build(here)
        return here
    from filelock import FileLock

    shared = factory.getbasetemp().parent / "built-once"
    shared.mkdir(exist_ok=True)
    with FileLock(str(shared / f"{name}.lock")):
        if not (shared / f"{name}.done").exists():
            shutil.rmtree(shared / name, ignore_errors=True)  # what a worker that failed left
            build(shared / name)  # in place: a run's records may name their own folder
            (shared / f"{name}.done").touch()
    shutil.copytree(shared / name, here, symlinks=True)
    return here


# With pytest-xdist, each worker builds its share of the session's runs at once, side by side, rather than each
# waiting for the one another worker is building when its first test needs it.
SHARES = (("detect_run",), ("commands_run", "fraud_run"))


@pytest.fixture(scope="session", autouse=True)
def _build_shares(request):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if not worker or count < 2:
        return
    share = [name for i, names in enumerate(SHARES) if i % count == int(worker.removeprefix("gw")) for name in names]
    for name in share:
        if any(name in item.fixturenames for item in request.session.items):  # the run needs it
            try:
                request.getfixturevalue(name)
            except pytest.skip.Exception:  # espeak-ng missing: the tests that need it say so themselves
                pass


@pytest.fixture(scope="session")
def fraud_csv(tmp_path_factory):
    from edgeward.train.fraud.config import FraudSimConfig
    from edgeward.train.fraud.data import write_fraud_csv

    def build(out: Path) -> None:
        out.mkdir()
        write_fraud_csv(out / "tx.csv", FraudSimConfig(rows=12_000, days=40, seed=3, card_compromise_per_day=2.0))

    return built_once(tmp_path_factory, "fraud-data", build) / "tx.csv"


@pytest.fixture(scope="session")
def fraud_run(fraud_csv, tmp_path_factory):
    """A trained and exported fraud run directory (tiny: a few epochs)."""
    from edgeward.export.engine import export_run
    from edgeward.train.fraud.config import FraudTrainConfig
    from edgeward.train.fraud.training import train_fraud

    def build(run: Path) -> None:
        train_fraud(fraud_csv, run, FraudTrainConfig(label="is_fraud", epochs=3, hidden=(16,), patience=3))
        export_run(run)

    return built_once(tmp_path_factory, "fraud-run", build)


@pytest.fixture(scope="session")
def fraud_model(fraud_run):
    return fraud_run / "artifacts" / "model.onnx"


@pytest.fixture(scope="session")
def detect_data(tmp_path_factory):
    from edgeward.app.cli import main

    def build(out: Path) -> None:
        assert main(["data", "detect", str(out), "--images", "24", "--holdout", "8", "--video-seconds", "1"]) == 0

    return built_once(tmp_path_factory, "detect-data", build)


@pytest.fixture(scope="session")
def detect_run(detect_data, tmp_path_factory):
    from edgeward.app.cli import main
    from edgeward.train.detect.config import DetectorShape, DetectTrainConfig
    from edgeward.train.detect.training import train_detect

    def build(run: Path) -> None:
        shape = DetectorShape(size=160)  # half size: faster, and test_detect_train checks that it reaches the manifest
        train_detect(detect_data, run, DetectTrainConfig(epochs=2, batch_size=8, shape=shape, eval_every=1))
        assert main(["export", str(run), "--format", "all", "--precision", "fp32,int8", "--max-drop", "100"]) == 0

    return built_once(tmp_path_factory, "detect-run", build)


@pytest.fixture(scope="session")
def commands_data(tmp_path_factory):
    from edgeward.app.cli import main
    from edgeward.runtime.audio_io import write_wav
    from edgeward.train.commands.data import espeak_available

    if not espeak_available():
        pytest.skip("espeak-ng is not installed (make install adds it)")

    def build(out: Path) -> None:
        assert main(["data", "commands", str(out), "--per-class", "16", "--stream-minutes", "0.5",
                     "--val-stream-minutes", "0.25", "--train-stream-minutes", "0.25"]) == 0
        # a background recording, as Speech Commands ships them: training mixes slices of it into the clips
        write_wav(out / "_background_noise_" / "tap.wav", np.random.default_rng(0).normal(size=32000) * 0.1, 16000)

    return built_once(tmp_path_factory, "commands-data", build)


@pytest.fixture(scope="session")
def commands_run(commands_data, tmp_path_factory):
    from edgeward.app.cli import main
    from edgeward.train.commands.config import CommandsTrainConfig
    from edgeward.train.commands.training import train_commands

    def build(run: Path) -> None:
        train_commands(commands_data, run, CommandsTrainConfig(epochs=3, filters=16, blocks=2))  # block 1 dilated
        assert main(["export", str(run), "--format", "all", "--precision", "fp32,int8", "--max-drop", "100"]) == 0

    return built_once(tmp_path_factory, "commands-run", build)


def write_creditcard_csv(path, rows: int = 3000, seed: int = 0, fraud_rate: float = 0.02) -> None:
    """A small file in the public creditcard.csv schema: Time, V1..V28, Amount, Class."""
    rng = np.random.default_rng(seed)
    time = np.sort(rng.uniform(0, 172_800, rows)).round()
    y = (rng.random(rows) < fraud_rate).astype(int)
    v = rng.normal(0, 1, (rows, 28))
    v[y == 1, :5] += rng.normal(2.5, 1.0, (int(y.sum()), 5))  # frauds differ in a few components
    amount = np.round(np.abs(rng.normal(80, 60, rows)) * np.where(y == 1, 2.5, 1.0), 2)
    header = ["Time", *[f"V{i}" for i in range(1, 29)], "Amount", "Class"]
    with open(path, "w") as f:
        f.write(",".join(f'"{h}"' for h in header) + "\n")
        for i in range(rows):
            vals = [f"{time[i]:.0f}", *[f"{x:.6f}" for x in v[i]], f"{amount[i]:.2f}", f'"{y[i]}"']
            f.write(",".join(vals) + "\n")


@pytest.fixture
def released_fraud(tmp_path_factory, monkeypatch, fraud_model):
    """The tiny test fraud model released as 'fraud-sim' (a catalogue of one in a temporary folder, standing in
    for the shipped one), and a working directory without a file of that name."""
    import shutil

    from edgeward.runtime import catalogue

    root = tmp_path_factory.mktemp("released")
    (root / "models" / "fraud-sim").mkdir(parents=True)
    shutil.copy(fraud_model, root / "models" / "fraud-sim" / "model.onnx")
    monkeypatch.setattr(catalogue, "catalogue_dir", lambda: root / "models")
    catalogue.catalogue.cache_clear()
    (root / "cwd").mkdir()
    monkeypatch.chdir(root / "cwd")
    yield root / "models" / "fraud-sim" / "model.onnx"
    catalogue.catalogue.cache_clear()
