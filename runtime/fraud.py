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
from edgeward.runtime.model import Model, ModelSource
from edgeward.runtime.registry import Feed
from edgeward.runtime.tabular import TabularClassifier

TASK = "fraud"  # the manifest task this runtime reads


class FraudScorer(TabularClassifier):
    """The fraud model's ``TabularClassifier``: ``score`` gives each row's fraud probability, ``flag`` whether it
    reaches the threshold chosen on validation data."""

    task = TASK
    feeds = frozenset({Feed.ROWS})

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
