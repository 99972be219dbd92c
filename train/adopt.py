"""Adopting a Keras model trained elsewhere: ``edgeward export --model`` makes a run directory of it, which the
export engine then turns into every artifact the model allows, each checked against it.

The model is loaded safely (``edgeward.core.model_files``: Lambda layers refused unless ``unsafe``), copied
into the run in its own format (``model.keras``, ``model.h5`` or ``model.savedmodel/``) with the Python file
of its custom layers, and handed to the task that says what it does (``TaskSpec.adopt``): ``generic`` for
any inputs and outputs, ``classify`` for an image classifier and its class folders.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from edgeward.core.config import check, fraction, option
from edgeward.core.errors import InputError
from edgeward.core.registry import get_task, tasks_that
from edgeward.core.rundir import RunDir, TrainingRecord

CUSTOM_OBJECTS = "custom_objects.py"  # the run's copy of the model's custom layers


@dataclass(frozen=True)
class AdoptOptions:
    model: str = option("", "the Keras model: a .keras or .h5 file, or a SavedModel folder", cli=False)
    task: str = option("generic", "what the model does: generic (any inputs and outputs) or classify (images -> "
                                  "class probabilities)")
    calibration: str | None = option(None, "real inputs, to check the artifacts on and to calibrate int8: an .npz of "
                                           "arrays named after the model's inputs (generic), a class folder (classify)")
    custom_objects: str | None = option(None, "a Python file that defines the model's custom layers")
    unsafe: bool = option(False, "load Lambda layers: they run Python code stored in the model file")
    holdout: float = option(0.25, "generic: the share of the calibration rows kept apart for the checks")
    labels: tuple[str, ...] = option((), "generic: the class names of a class-probability output, in its order (the "
                                         "runtime answers with them)")
    features: tuple[str, ...] = option((), "generic: the column names of a table input (N, F), in order (the runtime "
                                           "matches named rows by them)")
    params: str | None = option(None, "generic: a JSON file of settings the runtime reads, written into every "
                                      "artifact's manifest params (a tokenizer, a series' scaling, a graph's adjacency)")
    value_tolerance: float = option(0.1, "generic int8: a value output agrees within this share of its standard "
                                         "deviation (class-probability outputs agree by their top class)")
    preprocess: str = option("scale", "classify: how the model takes pixels: scale (0-1), meanstd, caffe")
    mean: tuple[float, ...] = option((0.0, 0.0, 0.0), "classify, meanstd: per RGB channel, on the 0-1 scale")
    std: tuple[float, ...] = option((1.0, 1.0, 1.0), "classify, meanstd: per RGB channel, on the 0-1 scale")
    seed: int = option(0, "random seed (the held-out split)")

    def __post_init__(self):
        fraction(self, "holdout", low_open=True)
        check(self, "value_tolerance", isinstance(self.value_tolerance, (int, float)) and self.value_tolerance > 0,
              "a number > 0")
        offered = tasks_that("adopt")
        check(self, "task", self.task in offered, f"one of {', '.join(offered)}")


def adopt_model(options: AdoptOptions, out: str | os.PathLike, progress: bool = False) -> TrainingRecord:
    """Load ``options.model``, make the run directory ``out`` (it must not hold a run) and write its record."""
    from edgeward.core.model_files import load_model

    spec = get_task(options.task)
    source = Path(options.model)
    model, _ = load_model(source, options.custom_objects, options.unsafe)
    run = RunDir(out)
    if run.path.exists() and any(run.path.iterdir()):
        raise InputError(f"{run}: expected a new or empty folder for the adopted model's run, got one with files in it")
    run.path.mkdir(parents=True, exist_ok=True)
    try:
        if source.is_dir():
            shutil.copytree(source, run / "model.savedmodel")
        else:
            shutil.copyfile(source, run / f"model{source.suffix}")
        if options.custom_objects:
            shutil.copyfile(options.custom_objects, run / CUSTOM_OBJECTS)
        record = spec.adopt(model, run, options, progress)
    except BaseException:
        shutil.rmtree(run.path, ignore_errors=True)  # no half-made run left behind
        raise
    record = replace(record, custom_objects=CUSTOM_OBJECTS if options.custom_objects else "", unsafe=options.unsafe)
    run.write_record(record)
    return record
