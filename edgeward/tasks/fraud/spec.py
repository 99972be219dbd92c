"""Fraud scoring of card transactions: an MLP on tabular features, scored by ``FraudScorer`` and ``score_csv``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from edgeward.core.manifest import TensorInfo
from edgeward.core.records import BenchRecord
from edgeward.core.rundir import RunDir, TrainingRecord, common_v0
from edgeward.core.task import ModelContract, TaskData, TaskSpec, Toy
from edgeward.tasks.fraud import bench as own_bench
from edgeward.tasks.fraud import demo as own_demo
from edgeward.tasks.fraud import release as own_release
from edgeward.tasks.fraud import section as own_section
from edgeward.tasks.fraud.demo import FraudDemo
from edgeward.train.fraud.config import FraudPayload, FraudSimConfig, FraudTrainConfig


class FraudTask(TaskSpec):
    name, title = "fraud", "Fraud scoring"
    data_config, train_config, payload_type, demo_config = FraudSimConfig, FraudTrainConfig, FraudPayload, FraudDemo
    data_help = "output CSV file"
    # fp32 and int8 in both formats (TFLite int8 with dynamic range: full integer is refused for the model's own
    # normalisation); --max-drop 100: a toy is not judged on accuracy
    toy = Toy(data=("--rows", "12000", "--days", "40", "--seed", "3", "--card-compromise-per-day", "2.0"),
              train=("--label", "is_fraud", "--epochs", "3", "--hidden", "16", "--patience", "3"),
              exports=(("--format", "onnx", "--precision", "fp32,int8", "--max-drop", "100"),
                       ("--format", "tflite", "--precision", "fp32,int8-dynamic", "--max-drop", "100")),
              data_file="data.csv")

    # the task's own benchmark targets and tables, report section and demo steps
    targets, tables = staticmethod(own_bench.targets), staticmethod(own_bench.tables)
    section, demo = staticmethod(own_section.section), staticmethod(own_demo.steps)
    measure_release, recipes = staticmethod(own_release.measure), staticmethod(own_release.recipes)

    def generate(self, out: Path, config: FraudSimConfig, progress: bool = False) -> Iterator[str]:
        from edgeward.train.fraud.data import write_fraud_csv

        s = write_fraud_csv(out, config)
        yield f"wrote {s['rows']:,} transactions ({s['frauds']:,} fraud, {s['fraud_rate']:.2%}) to {s['path']}"

    def train(self, data: Path, out: Path, config: FraudTrainConfig, progress: bool = False) -> TrainingRecord:
        from edgeward.train.fraud.training import train_fraud

        return train_fraud(data, out, config, progress)

    def describe(self, record: TrainingRecord) -> list[str]:
        p: FraudPayload = record.payload
        split = record.data.split
        lines = [f"adopted {p.adopted_from} (no training); evaluated on the same split"] if p.adopted_from else []
        lines.append(f"trained on {split['train']:,} rows, {record.epochs_run} epochs, {record.train_seconds} s; "
                     f"held-out tail: {split['test']:,} rows, {p.test_frauds} frauds")
        lines += [f"  {name:8s} AUPRC {m['auprc']:.4f}  ROC-AUC {m['roc_auc']:.4f}  precision {m['precision']:.3f}  "
                  f"recall {m['recall']:.3f}" for name, m in record.metrics.items()]
        lines.append(f"decision threshold (max F1 on validation): {record.thresholds['decision']:.4f}")
        return lines

    def splits(self, run: RunDir, record: TrainingRecord, train_sample: int | None = None) -> TaskData:
        from edgeward.train.fraud.training import fraud_splits

        return fraud_splits(run, record, train_sample)

    def contract(self, run: RunDir, record: TrainingRecord) -> ModelContract:
        from edgeward.train.fraud.training import INPUT_NAME
        from edgeward.train.metrics import auprc

        p: FraudPayload = record.payload
        threshold = float(record.thresholds["decision"])

        def roc_auc(y, out):
            from sklearn.metrics import roc_auc_score

            return [("roc_auc", float(roc_auc_score(y, out.reshape(-1))))]

        return ModelContract(
            inputs=(TensorInfo(INPUT_NAME, (None, len(p.features)), "float32", "NF", "inside-model"),),
            output=TensorInfo("", (None, 1), "float32", "N1", "probability of fraud"),
            labels=tuple(record.labels), features=tuple(p.features), thresholds={"decision": threshold},
            params={"label": p.label, "threshold_rule": "max F1 on the validation split"},
            metric=auprc, decide=lambda out: np.asarray(out).reshape(-1) >= threshold, extra_metrics=roc_auc)

    def upgrade_record(self, raw: dict, source: str) -> dict:
        d = raw["data"]
        return {**common_v0(raw), "labels": ["legit", "fraud"], "thresholds": {"decision": raw["threshold"]},
                "payload": {"features": raw["features"], "label": d["label"], "time_column": d["time_column"],
                            "rows": d["rows"], "fraud_rate": d["fraud_rate"], "test_frauds": d["split"]["test_frauds"],
                            "class_weight": raw["class_weight"], "pr_curves": raw["pr_curves"],
                            "baseline_seconds": raw.get("baseline_seconds"), "adopted_from": raw.get("adopted_from")}}

    def score_file(self, model, input_path: Path, out: Path, rejects: Path | None, threshold: float | None,
                   progress: bool = False) -> list[str]:
        from edgeward.runtime import FraudScorer, score_csv

        s = score_csv(FraudScorer(model, threshold=threshold), input_path, out, rejects, progress=progress)
        return [f"scored {s.scored:,} rows ({s.flagged:,} flagged) -> {s.scores_path}",
                f"rejected {s.rejected:,} rows -> {s.rejects_path}",
                f"{s.rows:,} input rows = {s.scored:,} scored + {s.rejected:,} rejected"]

    def bench(self, run: RunDir, record: TrainingRecord, result: BenchRecord, options, runnable: set[str], tick) -> None:
        fp32 = run.artifact("model.onnx")
        if options.vs_keras and fp32.exists():
            result.payload["vs_keras"] = own_bench.bench_vs_keras(run.model, fp32, run.holdout, options, step=tick)
        data = Path(record.data.path)
        if fp32.exists() and data.suffix == ".csv" and data.exists():
            result.payload["score_file"] = own_bench.bench_score_file(fp32, data)

    def bench_steps(self, options) -> int:
        return 3 if options.vs_keras else 0
