"""The fraud task's demo: simulate transactions -> train the MLP (and the baseline) -> compress (50%
pruning, QAT) -> export every format and precision, each checked against Keras, with an int8 accuracy
budget -> score a new month of transactions, some of them damaged, with rejects -> benchmark."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from edgeward.core.config import at_least, option
from edgeward.core.task import DemoStep
from edgeward.tasks.demo_export import export_step
from edgeward.tasks.fraud.section import SCORE_FILE


@dataclass(frozen=True)
class FraudDemo:
    rows: int = option(200_000, "simulated transactions")
    epochs: int = option(30, "most training epochs")

    def __post_init__(self):
        at_least(self, 1, "rows", "epochs")

    @classmethod
    def quick(cls):
        """The quick demo's sizes (``make demo``): a short training that shows the flow, in about a minute."""
        return cls(rows=50_000, epochs=8)


def damage(path: Path, every: int = 2500) -> int:
    """Damage a few rows of a CSV in place (an empty amount, a word, a short row) to show the rejects path."""
    rows = list(csv.reader(path.open(newline="")))
    header, damaged = rows[0], 0
    amount = header.index("amount")
    for i in range(every, len(rows), every):
        kind = damaged % 3
        if kind == 0:
            rows[i][amount] = ""
        elif kind == 1:
            rows[i][amount] = "n/a"
        else:
            rows[i] = rows[i][:3]
        damaged += 1
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    return damaged


def steps(run: Path, config: FraudDemo, seed: int, max_drop: float, bench, full: bool = True) -> list[DemoStep]:
    from edgeward.core.rundir import RunDir
    from edgeward.export.bench import bench_run
    from edgeward.export.engine import ExportOptions, available_specs, export_run
    from edgeward.export.validate import Budget
    from edgeward.runtime import FraudScorer, score_csv
    from edgeward.train.compress import CompressConfig, compress_run
    from edgeward.train.fraud.config import FraudSimConfig, FraudTrainConfig
    from edgeward.train.fraud.data import write_fraud_csv
    from edgeward.train.fraud.training import train_fraud

    data, incoming = run / "transactions.csv", run / "incoming.csv"

    def score():
        write_fraud_csv(incoming, FraudSimConfig(rows=max(config.rows // 10, 2000), days=30, seed=seed + 1))
        damage(incoming)
        with FraudScorer.from_file(RunDir(run).artifact("model.onnx")) as scorer:
            s = score_csv(scorer, incoming, run / "scores.csv", progress=True)
        examples = list(csv.reader((run / "scores.rejects.csv").open()))[1:6]
        summary = {"input": str(incoming), "rows": s.rows, "scored": s.scored, "flagged": s.flagged,
                   "rejected": s.rejected, "scores_path": str(s.scores_path), "rejects_path": str(s.rejects_path),
                   "reject_examples": examples}
        (run / SCORE_FILE).write_text(json.dumps(summary, indent=2))
        return summary

    def cold_start(b) -> str:
        k = b.payload["vs_keras"]
        return (f"runtime {k['runtime']['batched']['rows_per_s']:,.0f} rows/s, single-row p99 "
                f"{k['runtime']['single']['p99_us']:.0f} us, cold start "
                f"{k['cold_tensorflow']['cold_start_s'] / k['cold_runtime']['cold_start_s']:.0f}x faster than importing TensorFlow")

    compress = [
        DemoStep("compress: 50% pruning, QAT, pruning + QAT",
                 lambda: (compress_run(run, CompressConfig(qat=True), progress=True),
                          compress_run(run, CompressConfig(sparsity=0.5, qat=True), progress=True))[1],
                 lambda r: f"pruned AUPRC {r['pruned']['metric']:.4f}, pruned+QAT {r['pruned-qat']['metric']:.4f} "
                           f"(base {r['base']['metric']:.4f})"),
        DemoStep("export every format and precision, checked against Keras",
                 lambda: export_run(run, ExportOptions(specs=available_specs(run), budget=Budget(max_drop=max_drop),
                                                       search=True), progress=True),
                 lambda e: f"{len(e.checks)} artifacts within budget; recommended for {e.recommendation['device']}: "
                           f"{e.recommendation['artifact']}"),
    ] if full else [export_step(run, max_drop, lambda c: f"AUPRC {c.metric:.4f}", full)]  # quick: no compression
    return [
        DemoStep("simulate transactions", lambda: write_fraud_csv(data, FraudSimConfig(rows=config.rows, seed=seed)),
                 lambda s: f"{s['rows']:,} rows, {s['frauds']:,} fraud ({s['fraud_rate']:.2%})"),
        DemoStep("train fraud MLP + baseline",
                 lambda: train_fraud(data, run, FraudTrainConfig(epochs=config.epochs, seed=seed), progress=True),
                 lambda r: f"AUPRC {r.metrics['model']['auprc']:.4f} (baseline {r.metrics['baseline']['auprc']:.4f}), "
                           f"ROC-AUC {r.metrics['model']['roc_auc']:.4f}"),
        *compress,
        DemoStep("score new transactions (some damaged)", score,
                 lambda s: f"{s['rows']:,} rows = {s['scored']:,} scored ({s['flagged']} flagged) + {s['rejected']} rejected"),
        DemoStep("benchmark every artifact, and the runtime vs Keras", lambda: bench_run(run, bench, progress=True),
                 lambda b: f"{len(b.artifacts)} artifacts; " + cold_start(b)),
    ]
