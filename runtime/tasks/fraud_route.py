"""``POST /fraud/score``: transactions as JSON (one row object, a list of them, or ``{"rows": [...]}``) in;
a score and a flag per row out. Each row is checked on its own: a bad one is named in ``rejects`` (row, field,
expected, got) and the answer is a 422, but the other rows are still scored and returned. The task's own server
route (``FraudScorer.serve_routes``), mounted by ``edgeward serve`` from the registry."""

from __future__ import annotations

import json

import numpy as np

from edgeward.core.errors import InputError
from edgeward.core.manifest import parse_request

FLOAT32_MAX = 3.4e38  # NaN and infinities compare false


def parse_rows(body: bytes) -> list:
    doc = parse_request(body, "JSON rows")
    if isinstance(doc, dict) and isinstance(doc.get("rows"), list):
        return doc["rows"]
    if isinstance(doc, dict):
        return [doc]
    if isinstance(doc, list) and doc:
        return doc
    raise InputError("request: expected a row object, a non-empty list of rows, or {\"rows\": [...]}")


def matrix(rows: list, features: tuple[str, ...]) -> tuple[np.ndarray, list[int], list[dict]]:
    """The rows that can be scored as a float32 matrix (features in model order), their indices, and one reject
    per row that cannot (the first bad field of each)."""
    good, index, rejects = [], [], []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            rejects.append({"row": i, "field": None, "expected": "an object of feature values", "got": type(row).__name__})
            continue
        values = []
        for name in features:
            value = row.get(name)
            # compared, not converted: an integer of 400 digits is out of float32's range, not an OverflowError
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) <= FLOAT32_MAX
            if not ok:
                rejects.append({"row": i, "field": name, "expected": "a finite number within float32's range",
                                "got": "missing" if name not in row else _shown(value)})
                break
            values.append(value)
        else:
            good.append(values)
            index.append(i)
    x = np.asarray(good, dtype=np.float32).reshape(len(good), len(features))
    return x, index, rejects


async def score(s, body: bytes) -> tuple[int, dict]:
    """``POST /fraud/score`` on the served model ``s`` (a ``serve.models.Served``): the status and the answer."""
    rows = parse_rows(body)
    x, index, rejects = matrix(rows, s.model.manifest.features)
    scores = []
    if len(index):
        out = await s.batcher.submit({s.model.input_names[0]: x})
        scores = out[s.model.output_names[0]].reshape(-1)
    threshold = s.model.manifest.thresholds.get("decision", 0.5)
    return answer(s.name, threshold, index, scores, rejects)


def request_body(features: tuple[str, ...], x: np.ndarray) -> bytes:
    """A request of the rows ``x`` (feature values in model order): one row object, or a list of them."""
    rows = [dict(zip(features, map(float, r))) for r in x]
    return json.dumps(rows if len(rows) > 1 else rows[0]).encode()


def answer(model_name: str, threshold: float, index: list[int], scores: np.ndarray, rejects: list[dict]) -> tuple[int, dict]:
    rows = [{"row": i, "score": round(float(s), 6), "flag": bool(s >= threshold)} for i, s in zip(index, scores)]
    return (422 if rejects else 200), {"model": model_name, "threshold": threshold, "scores": rows, "rejects": rejects}


def _shown(value):
    """A rejected value as the answer names it: itself, or its first digits where it is long."""
    text = str(value)
    return value if len(text) <= 40 and not isinstance(value, (list, dict)) else text[:37] + "..."
