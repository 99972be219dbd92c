"""Shared fixtures, each made once per session: the fraud, detection and voice-commands toy runs (each task spec's
``toy``, built by ``edgeward.tools.tiny_models`` as the soak and the arm64 check build theirs: far too short-trained
to be good, they test the plumbing) and a creditcard.csv-schema file."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import pytest


def toy_data(*args, **kw):
    """``edgeward.tools.tiny_models.toy_data``, imported when a fixture builds data: the tools are not in the wheel,
    and the runtime's own tests run under emulation against the installed wheel (``make arm64-check``)."""
    from edgeward.tools.tiny_models import toy_data as build

    return build(*args, **kw)


def toy_run(*args, **kw):
    """``edgeward.tools.tiny_models.toy_run``, imported when a fixture builds a run (as ``toy_data``)."""
    from edgeward.tools.tiny_models import toy_run as build

    return build(*args, **kw)


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
    return built_once(tmp_path_factory, "fraud-data", lambda out: toy_data("fraud", out, in_process=True)) / "data.csv"


@pytest.fixture(scope="session")
def fraud_run(fraud_csv, tmp_path_factory):
    """The fraud toy run (tiny: a few epochs), exported to fp32 ONNX only."""
    fp32 = (("--format", "onnx", "--precision", "fp32"),)
    return built_once(tmp_path_factory, "fraud-run", lambda run: toy_run("fraud", fraud_csv, run, fp32, in_process=True))


@pytest.fixture(scope="session")
def fraud_model(fraud_run):
    return fraud_run / "artifacts" / "model.onnx"


@pytest.fixture(scope="session")
def detect_data(tmp_path_factory):
    return built_once(tmp_path_factory, "detect-data", lambda out: toy_data("detect", out, in_process=True))


@pytest.fixture(scope="session")
def detect_run(detect_data, tmp_path_factory):
    """The detection toy run: exported in every format, fp32 and int8."""
    return built_once(tmp_path_factory, "detect-run", lambda run: toy_run("detect", detect_data, run, in_process=True))


@pytest.fixture(scope="session")
def commands_data(tmp_path_factory):
    from edgeward.runtime.io.audio_io import write_wav
    from edgeward.train.commands.data import espeak_available

    if not espeak_available():
        pytest.skip("espeak-ng is not installed (make install adds it)")

    def build(out: Path) -> None:
        toy_data("commands", out, in_process=True)
        # a background recording, as Speech Commands ships them: training mixes slices of it into the clips
        write_wav(out / "_background_noise_" / "tap.wav", np.random.default_rng(0).normal(size=32000) * 0.1, 16000)

    return built_once(tmp_path_factory, "commands-data", build)


@pytest.fixture(scope="session")
def commands_run(commands_data, tmp_path_factory):
    """The voice-commands toy run: exported in every format, fp32 and int8."""
    return built_once(tmp_path_factory, "commands-run", lambda run: toy_run("commands", commands_data, run, in_process=True))


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

    from edgeward.runtime.engine import catalogue

    root = tmp_path_factory.mktemp("released")
    (root / "models" / "fraud-sim").mkdir(parents=True)
    shutil.copy(fraud_model, root / "models" / "fraud-sim" / "model.onnx")
    monkeypatch.setattr(catalogue, "catalogue_dir", lambda: root / "models")
    catalogue.catalogue.cache_clear()
    (root / "cwd").mkdir()
    monkeypatch.chdir(root / "cwd")
    yield root / "models" / "fraud-sim" / "model.onnx"
    catalogue.catalogue.cache_clear()
