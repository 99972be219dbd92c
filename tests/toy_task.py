"""A task that edgeward does not ship, all in this one file: a spec and a runtime class, registered by
``tests/tasks/test_toy_task.py`` with one entry in each registry and nothing else. Its model is a table scorer (the
fraud toy's network, its manifest's task renamed); its runtime takes rows, averages them on a route of its own,
runs on a live source (a CSV file played row by row) and takes part in the parity check across machines."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeward.core.config import at_least, option
from edgeward.core.task import TaskSpec
from edgeward.runtime.registry import Feed
from edgeward.runtime.tasks.tabular import TabularClassifier

NAME = "toy"


class ToyScorer(TabularClassifier):
    task = NAME
    feeds = frozenset({Feed.ROWS})
    parity_feed = Feed.ROWS
    serve_routes = {"mean": "toy_task:mean_route"}

    @classmethod
    def parity_results(cls, artifact: str, source: str) -> dict:
        with cls.from_file(artifact, device="auto", threads=1) as scorer, open(source, newline="") as f:
            rows = list(csv.DictReader(f))
            x = np.array([[float(r[name]) for name in scorer.features] for r in rows], dtype=np.float32)
            return {"scores": scorer.probabilities(x)[:, -1].astype(float).tolist()}

    @staticmethod
    def parity_compare(a: dict, b: dict, names: tuple[str, str]) -> tuple[float, list, str]:
        diff = np.abs(np.subtract(a["scores"], b["scores"]))
        differ = [int(i) for i in np.flatnonzero(diff > 1e-6)]
        return float(diff.max()), differ, f"{len(a['scores'])} rows on {names[0]} and {names[1]}, {len(differ)} differ"


async def mean_route(served, body: bytes) -> tuple[int, dict]:
    """``POST /toy/mean``: rows as a JSON list of lists in, the mean score out."""
    import json

    x = np.asarray(json.loads(body), dtype=np.float32)
    out = await served.batcher.submit({served.model.input_names[0]: x})
    return 200, {"model": served.name, "rows": len(x), "mean": float(out[served.model.output_names[0]].mean())}


@dataclass(frozen=True)
class ToyRunOptions:
    rows: int = option(1000, "the most rows to play")

    def __post_init__(self):
        at_least(self, 1, "rows")


class ToyTask(TaskSpec):
    name, title = NAME, "Toy scoring"
    payload_type = dict
    run_options = ToyRunOptions
    source_help = "a CSV file of rows, played one by one"

    def live(self, model, source, options: ToyRunOptions, device, threads, emit, note) -> None:
        with ToyScorer.from_file(model, device=device, threads=threads) as scorer, open(Path(source), newline="") as f:
            for number, row in enumerate(csv.DictReader(f)):
                if number == options.rows:
                    break
                x = np.array([[float(row[name]) for name in scorer.features]], dtype=np.float32)
                emit({"row": number, "score": round(float(scorer.probabilities(x)[0, -1]), 6)})
        note(f"played {min(number + 1, options.rows)} rows")

    def result_text(self, result: dict) -> str:
        return f"row {result['row']}: {result['score']:.4f}"

    def describe(self, record):
        raise NotImplementedError

    def splits(self, run, record, train_sample=None):
        raise NotImplementedError

    def contract(self, run, record):
        raise NotImplementedError

    def section(self, run, record) -> str:
        raise NotImplementedError
