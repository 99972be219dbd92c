"""A released fraud model measured by the runtime on a month of transactions simulated afresh: AUPRC, and
precision and recall at its decision threshold. The quick check's month (20,000 transactions, about 80 frauds
from a handful of compromised cards and terminals) is too bursty for one threshold's precision and recall: it
measures AUPRC alone (docs/decisions.md)."""

from __future__ import annotations

from pathlib import Path

from edgeward.core.manifest import Metric
from edgeward.core.task import RELEASE_RUNS, Recipe

RELEASE_ROWS, CHECK_ROWS = 100_000, 20_000  # about this many legitimate transactions in the month


def measure(model: Path, work: Path, seed: int, small: bool = False) -> list[Metric]:
    from edgeward.runtime.tasks.fraud import FraudScorer
    from edgeward.train.fraud.config import FraudSimConfig
    from edgeward.train.fraud.data import simulate
    from edgeward.train.fraud.training import scores

    rows = simulate(FraudSimConfig(rows=CHECK_ROWS if small else RELEASE_ROWS, days=30, seed=seed))
    with FraudScorer.from_file(model) as scorer:
        y = rows["is_fraud"].to_numpy() == 1
        s = scores(y, scorer.score(rows), scorer.threshold)
    data = f"{len(rows):,} transactions of a month simulated afresh (seed {seed}), {int(y.sum())} frauds"
    kept = ("auprc",) if small else ("auprc", "precision", "recall")
    return [Metric(k, round(s[k], 4), data + ("" if k == "auprc" else ", at the threshold")) for k in kept]


def recipes() -> tuple[Recipe, ...]:
    """The task's released models (``make models``)."""
    data, run = str(RELEASE_RUNS / "fraud-sim-data.csv"), str(RELEASE_RUNS / "fraud-sim")
    return (Recipe(
        "fraud-sim", "fraud", "card fraud scoring for the simulator's transaction schema (edgeward data fraud): MLP",
        steps=(("data", "fraud", data, "--rows", "200000", "--seed", "0"),
               ("train", "fraud", "--data", data, "--out", run, "--seed", "0"),
               ("export", run, "--format", "onnx", "--precision", "fp32,int8", "--max-drop", "1")),
        ship=("model.onnx", "model-int8.onnx"), tolerance=0.02, check_tolerance=0.15),)
