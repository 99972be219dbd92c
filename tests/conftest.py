"""Shared fixtures: a tiny simulated fraud run and a creditcard.csv-schema file, trained and exported once."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def fraud_csv(tmp_path_factory):
    from edgeward.train.fraud.config import FraudSimConfig
    from edgeward.train.fraud.data import write_fraud_csv

    path = tmp_path_factory.mktemp("data") / "tx.csv"
    write_fraud_csv(path, FraudSimConfig(rows=12_000, days=40, seed=3, card_compromise_per_day=2.0))
    return path


@pytest.fixture(scope="session")
def fraud_run(fraud_csv, tmp_path_factory):
    """A trained and exported fraud run directory (tiny: a few epochs)."""
    from edgeward.export.engine import export_run
    from edgeward.train.fraud.config import FraudTrainConfig
    from edgeward.train.fraud.training import train_fraud

    run = tmp_path_factory.mktemp("run")
    train_fraud(fraud_csv, run, FraudTrainConfig(label="is_fraud", epochs=3, hidden=(16,), patience=3))
    export_run(run)
    return run


@pytest.fixture(scope="session")
def fraud_model(fraud_run):
    return fraud_run / "artifacts" / "model.onnx"


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
