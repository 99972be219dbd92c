"""Any Keras model a user brings (any inputs and outputs, names kept): adopted, exported, and judged by how often
each artifact's outputs agree with the Keras model's (``edgeward.train.generic.adopt``).

It has no generator, no training, no live runtime and no demo: the model and its inputs are the user's. Its
artifacts run through the runtime's ``Model``.
"""

from __future__ import annotations

import numpy as np

from edgeward.core.html import escape, table
from edgeward.core.manifest import TensorInfo
from edgeward.core.rundir import RunDir, TrainingRecord
from edgeward.core.task import ModelContract, TaskData, TaskSpec
from edgeward.train.generic.adopt import GenericPayload


class GenericTask(TaskSpec):
    name, title = "generic", "A Keras model brought as it is"
    payload_type = GenericPayload
    compress_refusal = ("an adopted generic model has no labels to fine-tune on: prune or quantization-aware train "
                        "it where it was trained, then adopt it again")

    def adopt(self, model, run: RunDir, options, progress: bool = False) -> TrainingRecord:
        from edgeward.train.generic.adopt import adopt_generic

        return adopt_generic(model, run, options, progress)

    def describe(self, record: TrainingRecord) -> list[str]:
        p, split = record.payload, record.data.split
        ins = ", ".join(f"{t['name']} {_shape(t['shape'])} {t['dtype']}" for t in p.inputs)
        outs = ", ".join(f"{t['name']} {_shape([None, *t['shape']])} ({t['kind']})" for t in p.outputs)
        data = "random inputs (no --calibration: float artifacts only)" if p.random_inputs else \
            f"{split['train']:,} calibration rows, {split['test']:,} held out for the checks"
        return [f"adopted {p.model} ({p.flavor}, {record.params:,} parameters): inputs {ins}; outputs {outs}; {data}"]

    def splits(self, run: RunDir, record: TrainingRecord, train_sample: int | None = None) -> TaskData:
        x = dict(np.load(run.calibration))
        n = len(next(iter(x.values())))
        if train_sample is not None and train_sample < n:
            keep = np.linspace(0, n - 1, train_sample).astype(int)
            x = {k: v[keep] for k, v in x.items()}
        holdout = np.load(run.holdout)
        return TaskData(x_train=x, y_train=None, x_val=None, y_val=None, x_test=None, y_test=holdout["y_test"], loss="none")

    def contract(self, run: RunDir, record: TrainingRecord) -> ModelContract:
        from edgeward.train.generic.adopt import agreement_metric

        p: GenericPayload = record.payload
        outputs = tuple(TensorInfo(o["name"], (None, *o["shape"]), "float32", "",
                                   "class probabilities" if o["kind"] == "classes" else "values") for o in p.outputs)
        agreement = agreement_metric(p.outputs, p.value_tolerance)

        def decide(out):
            return np.asarray(out).reshape(len(out), -1).argmax(axis=1)

        return ModelContract(
            inputs=tuple(TensorInfo(t["name"], (None, *t["shape"][1:]), t["dtype"]) for t in p.inputs),
            output=outputs[0], extra_outputs=outputs[1:], labels=tuple(record.labels), thresholds={},
            params={**p.runtime, "source_model": p.model, "flavor": p.flavor, "value_tolerance": p.value_tolerance,
                    "output_kinds": {o["name"]: o["kind"] for o in p.outputs}}, features=tuple(p.features),
            metric=agreement, decide=decide, agreement=agreement,
            max_calibration=0 if p.random_inputs else min(record.data.split["train"], 1000))

    def section(self, run: RunDir, record: TrainingRecord) -> str:
        p = record.payload
        rows = [["input", t["name"], _shape(t["shape"]), t["dtype"], ""] for t in p.inputs]
        rows += [["output", t["name"], _shape([None, *t["shape"]]), "float32",
                  "top class" if t["kind"] == "classes" else f"within {p.value_tolerance:g} x std ({t['scale']:.3g})"]
                 for t in p.outputs]
        return (f"<p>{escape(self.describe(record)[0])}. An artifact agrees with the Keras model on a held-out row when "
                "every output does:</p>" + table(["", "name", "shape", "dtype", "int8 agrees by"], rows))


def _shape(shape) -> str:
    return "(" + ", ".join("N" if d is None else str(d) for d in shape) + ")"
