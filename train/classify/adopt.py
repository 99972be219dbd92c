"""An image classifier trained elsewhere, adopted for export with its class folders: the run gets what a
trained classifier's run has (held-out images through the model's own preprocessing, top-1 and top-5, the
confusion matrix, for two classes AUPRC and a threshold chosen on validation), so compression, export, the
benchmark and ``edgeward run classify`` treat it as one of ours."""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from edgeward.core.errors import InputError
from edgeward.core.rundir import RunDir, TrainingRecord
from edgeward.runtime.tasks.classify import MODES, ImagePreprocess
from edgeward.train.classify.config import ClassifyTrainConfig
from edgeward.train.classify.data import load_class_folders
from edgeward.train.loop import Fitted


def adopt_classifier(model, run: RunDir, options, progress: bool = False) -> TrainingRecord:
    from edgeward.core.model_files import input_specs
    from edgeward.train.classify.training import ClassifyTrainer

    folder = Path(options.calibration) if options.calibration else None
    if folder is None or not folder.is_dir():
        raise InputError(f"--calibration: a classifier is adopted with its class folders (one sub-folder per class), "
                         f"got {options.calibration}")
    specs = input_specs(model)
    shape = specs[0].shape
    if len(specs) != 1 or len(shape) != 4 or shape[3] != 3 or shape[1] is None or shape[1] != shape[2]:
        raise InputError(f"{options.model}: expected a classifier taking one (N, S, S, 3) RGB image input, got "
                         + ", ".join(f"{s.name} {s.shape}" for s in specs))
    if options.preprocess not in MODES:
        raise InputError(f"--preprocess: expected one of {', '.join(MODES)}, got {options.preprocess!r}")
    config = ClassifyTrainConfig(seed=options.seed)  # its val and test shares split a folder without splits
    trainer = ClassifyTrainer(folder, config)
    trainer.data = load_class_folders(folder, shape[1], config.val, config.test, config.seed, progress)
    trainer.preprocess = ImagePreprocess(shape[1], options.preprocess, tuple(options.mean), tuple(options.std))
    classes = model.predict(trainer.preprocess.scale(trainer.data.splits["test"][0][:1]), verbose=0).shape[-1]
    if classes != len(trainer.data.names):
        raise InputError(f"{options.model}: the model gives {classes} class scores; {folder} has {len(trainer.data.names)} "
                         f"class folders ({', '.join(trainer.data.names)})")
    result = trainer.evaluate(Fitted(model, {}, 0.0))
    np.savez(run.holdout, **result.holdout)
    return TrainingRecord(
        task="classify", data=result.data, config={**asdict(config), "adopted": asdict(options)},
        labels=tuple(result.labels), thresholds=result.thresholds, metrics=result.metrics,
        params=int(model.count_params()), epochs_run=0, train_seconds=0.0, history={},
        payload=replace(result.payload, arch="adopted"))
