"""``FraudScorer``: the fraud task on top of ``Model``.

Model contract: task ``fraud``; one input ``features``, float32, shape (N, F), the raw feature values
in the order of ``manifest.features`` (the normalisation is a layer inside the model); one output,
shape (N, 1), the probability that the transaction is fraud; ``manifest.thresholds["decision"]``,
chosen on validation data at export, turns a probability into a flag.
"""

from __future__ import annotations

import numpy as np

from edgeward.core.errors import InputError
from edgeward.devices import Profile
from edgeward.runtime.engine.model import Model, ModelSource
from edgeward.runtime.registry import Feed
from edgeward.runtime.tasks.tabular import TabularClassifier

TASK = "fraud"  # the manifest task this runtime reads


class FraudScorer(TabularClassifier):
    """The fraud model's ``TabularClassifier``: ``score`` gives each row's fraud probability, ``flag`` whether it
    reaches the threshold chosen on validation data."""

    task = TASK
    feeds = frozenset({Feed.ROWS})
    parity_feed = Feed.ROWS  # a CSV file of rows
    serve_routes = {"score": "edgeward.runtime.tasks.fraud_route:score"}  # POST /fraud/score: JSON rows in, scores out

    @classmethod
    def route_request(cls, path, manifest, inputs):
        from edgeward.runtime.tasks.fraud_route import request_body

        return request_body(manifest.features, next(iter(inputs.values())))

    @classmethod
    def parity_results(cls, artifact: str, source: str) -> dict:
        """Scores and flags of the rows of the CSV file ``source``, through ``score``'s CSV path."""
        import csv
        import tempfile
        from pathlib import Path

        from edgeward.runtime.tasks.csv_scoring import score_csv

        with tempfile.TemporaryDirectory() as tmp, cls.from_file(artifact, device="auto", threads=1) as scorer:
            summary = score_csv(scorer, source, Path(tmp) / "scores.csv")
            with open(summary.scores_path, newline="") as f:
                rows = list(csv.DictReader(f))
        return {"scores": [float(r["score"]) for r in rows], "flags": [int(r["flag"]) for r in rows]}

    @staticmethod
    def parity_compare(a: dict, b: dict, names: tuple[str, str]) -> tuple[float, list, str]:
        differ = [i for i, (x, y) in enumerate(zip(a["flags"], b["flags"])) if x != y]
        values = float(np.abs(np.subtract(a["scores"], b["scores"])).max())
        return values, differ, f"{len(a['flags'])} rows, {len(differ)} flags differ"

    def __init__(self, model: Model, threshold: float | None = None):
        if model.manifest.task != TASK:
            raise InputError(f"{model.source}: expected a fraud model, got task '{model.manifest.task}'")
        super().__init__(model, threshold)

    @classmethod
    def from_file(
        cls, source: ModelSource, device: str | Profile | None = "auto", threads: int | None = None,
        threshold: float | None = None,
    ) -> "FraudScorer":
        return cls(Model(source, device=device, threads=threads), threshold=threshold)

    def flag(self, rows) -> np.ndarray:
        """True where the probability reaches the decision threshold."""
        return self.score(rows) >= self.threshold
