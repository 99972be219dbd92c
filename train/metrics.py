"""Metrics shared by tasks: (labels, model outputs) -> a number, higher is better; each function's name
names the metric in records, manifests and tables."""

from __future__ import annotations

import numpy as np


def auprc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the precision-recall curve (average precision) of a binary probability."""
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, np.asarray(p).reshape(-1)))


def accuracy(y: np.ndarray, p: np.ndarray) -> float:
    """Share of rows whose highest-scoring class is the label."""
    return float((np.asarray(p).argmax(axis=-1) == np.asarray(y)).mean())
