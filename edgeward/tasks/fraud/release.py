"""A released fraud model measured by the runtime on a month of transactions simulated afresh: AUPRC, and
precision and recall at its decision threshold. The quick check's month (20,000 transactions, about 80 frauds
from a handful of compromised cards and terminals) is too bursty for one threshold's precision and recall
(recall 0.15 to 0.46 over six seeds): it measures AUPRC alone."""

from __future__ import annotations

from pathlib import Path

from edgeward.core.manifest import Metric

RELEASE_ROWS, CHECK_ROWS = 100_000, 20_000  # about this many legitimate transactions in the month


def measure(model: Path, work: Path, seed: int, small: bool = False) -> list[Metric]:
    from edgeward.runtime.fraud import FraudScorer
    from edgeward.train.fraud.config import FraudSimConfig
    from edgeward.train.fraud.data import simulate
    from edgeward.train.metrics import auprc

    rows = simulate(FraudSimConfig(rows=CHECK_ROWS if small else RELEASE_ROWS, days=30, seed=seed))
    with FraudScorer.from_file(model) as scorer:
        p = scorer.score(rows)
        flagged = p >= scorer.threshold
    y = rows["is_fraud"].to_numpy() == 1
    data = f"{len(rows):,} transactions of a month simulated afresh (seed {seed}), {int(y.sum())} frauds"
    metrics = [Metric("auprc", round(auprc(y, p), 4), data)]
    if not small:
        hits = float((y & flagged).sum())
        metrics += [Metric("precision", round(hits / max(1, int(flagged.sum())), 4), data + ", at the threshold"),
                    Metric("recall", round(hits / max(1, int(y.sum())), 4), data + ", at the threshold")]
    return metrics
