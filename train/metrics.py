"""Metrics shared by tasks: (labels, model outputs) -> a number, higher is better; each function's name
names the metric in records, manifests and tables."""

from __future__ import annotations

import numpy as np


def auprc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the precision-recall curve (average precision) of a binary probability: one column, or the
    second (positive) class's column of two-class probabilities."""
    from sklearn.metrics import average_precision_score

    p = np.asarray(p)
    positive = p[:, 1] if p.ndim == 2 and p.shape[1] == 2 else p.reshape(-1)
    return float(average_precision_score(np.asarray(y) == 1, positive))


def accuracy(y: np.ndarray, p: np.ndarray) -> float:
    """Share of rows whose highest-scoring class is the label."""
    return float((np.asarray(p).argmax(axis=-1) == np.asarray(y)).mean())


def top1(y: np.ndarray, p: np.ndarray) -> float:
    """Share of images whose most likely class is the label (``accuracy``, named as classifiers name it)."""
    return accuracy(y, p)


def top5(y: np.ndarray, p: np.ndarray) -> float:
    """Share of images whose label is among the five most likely classes."""
    best = np.argsort(-np.asarray(p), axis=-1)[:, :5]
    return float((best == np.asarray(y)[:, None]).any(axis=1).mean())


def best_f1_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The score threshold with the best F1 for binary labels ``y`` and scores ``p`` (0.5 if there is none)."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(y, p)
    f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
    return float(thresholds[int(np.argmax(f1))]) if len(thresholds) else 0.5
