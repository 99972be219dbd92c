"""Compression of tf_keras models with TensorFlow Model Optimization: magnitude pruning and QAT.

- Pruning: ``prune_low_magnitude`` on Dense/Conv layers, polynomial schedule to the target
  sparsity while fine-tuning, then ``strip_pruning``; sparsity is reported per layer.
- QAT: TFMOT's default 8-bit scheme (after pruning: the prune-preserving scheme, so zeros stay zero).
  Leading preprocessing layers (Normalization, Rescaling) stay in float: they take raw values whose
  ranges an 8-bit input quantizer would destroy, and TFMOT has no quantize config for them.
Keras 3 models cannot be pruned or quantization-aware trained (TFMOT supports Keras 2 only): they get
an error that says what works instead.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edgeward.errors import InputError
from edgeward.train.keras_io import KerasFlavor, keras_flavor, load_keras
from edgeward.train.task_data import TaskData, load_task_data, read_report

BASE_MODEL, PRUNED_MODEL, QAT_MODEL, PRUNED_QAT_MODEL = "model.keras", "model-pruned.keras", "model-qat.h5", "model-pruned-qat.h5"
COMPRESS_FILE = "compress.json"


@dataclass(frozen=True)
class CompressConfig:
    sparsity: float | None = None  # target fraction of zero weights (e.g. 0.5); None: no pruning
    qat: bool = False
    prune_epochs: int = 4
    qat_epochs: int = 3
    prune_learning_rate: float = 5e-4
    qat_learning_rate: float = 1e-4
    batch_size: int = 512
    seed: int = 0


def quantize_scope(objects: dict | None = None):
    from edgeward.errors import require

    tfmot = require("tensorflow_model_optimization", "train")
    return tfmot.quantization.keras.quantize_scope(objects or {})


def custom_objects() -> dict:
    return {}


def _prunable(keras) -> tuple:
    L = keras.layers
    return (L.Dense, L.Conv1D, L.Conv2D, L.DepthwiseConv2D, L.SeparableConv2D)


def _float_prefix(keras) -> tuple:
    return (keras.layers.Normalization, keras.layers.Rescaling)


def layer_sparsity(model, keras) -> dict[str, float]:
    """Fraction of exact zeros in each prunable layer's kernel(s)."""
    out = {}
    for layer in _all_layers(model):
        inner = getattr(layer, "layer", layer)  # QuantizeWrapper holds the layer
        if isinstance(inner, _prunable(keras)):
            kernels = [w.numpy() for w in layer.weights if "kernel" in w.name and "quantize" not in w.name.split("/")[-1]]
            if kernels:
                total = sum(k.size for k in kernels)
                out[inner.name] = round(float(sum((k == 0).sum() for k in kernels)) / total, 4)
    return out


def _all_layers(model) -> list:
    """Layers of a model, nested models expanded (a QAT model holds its quantized core as one layer)."""
    layers = []
    for layer in model.layers:
        layers += _all_layers(layer) if hasattr(layer, "layers") and not hasattr(layer, "layer") else [layer]
    return layers


def _fit(model, data: TaskData, epochs: int, lr: float, config: CompressConfig, keras, callbacks, desc, progress):
    from edgeward.train.progress import epoch_bar

    model.compile(optimizer=keras.optimizers.Adam(lr), loss=data.loss)
    model.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), epochs=epochs,
              batch_size=config.batch_size, class_weight=data.class_weight, verbose=0, shuffle=True,
              callbacks=[*callbacks, epoch_bar(keras, epochs, desc, progress)])


def prune(model, data: TaskData, config: CompressConfig, keras, progress: bool = False):
    """A pruned, stripped copy of ``model`` (the given model is not changed)."""
    import tensorflow_model_optimization as tfmot

    sparsity = tfmot.sparsity.keras
    steps = int(np.ceil(len(data.x_train) / config.batch_size)) * config.prune_epochs
    schedule = sparsity.PolynomialDecay(0.0, config.sparsity, begin_step=0, end_step=max(1, int(steps * 0.7)),
                                        frequency=max(1, steps // (config.prune_epochs * 4)))
    prunable = _prunable(keras)

    def wrap(layer):
        clone = layer.__class__.from_config(layer.get_config())
        return sparsity.prune_low_magnitude(clone, pruning_schedule=schedule) if isinstance(layer, prunable) else clone

    wrapped = keras.models.clone_model(model, clone_function=wrap)
    _copy_weights(model, wrapped)
    _fit(wrapped, data, config.prune_epochs, config.prune_learning_rate, config, keras,
         [sparsity.UpdatePruningStep()], "pruning", progress)
    return sparsity.strip_pruning(wrapped)


def quantize_aware(model, data: TaskData, config: CompressConfig, keras, preserve_sparsity: bool, progress: bool = False):
    """A QAT copy of ``model`` with its leading preprocessing layers kept in float."""
    import tensorflow_model_optimization as tfmot

    Q = tfmot.quantization.keras
    prefix_types = _float_prefix(keras)
    prefix = []
    for layer in model.layers[1:]:
        if not isinstance(layer, prefix_types):
            break
        prefix.append(layer)
    names = {layer.name for layer in prefix}

    def clone(layer):
        if layer.name in names:
            return keras.layers.Activation("linear", name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    core = keras.models.clone_model(model, clone_function=clone)
    _copy_weights(model, core, skip=names)
    scheme = (tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme() if preserve_sparsity
              else Q.default_8bit.Default8BitQuantizeScheme())
    qcore = Q.quantize_apply(Q.quantize_annotate_model(core), scheme)
    inputs = keras.Input(model.inputs[0].shape[1:], name=model.inputs[0].name.split(":")[0], dtype=model.inputs[0].dtype)
    h = inputs
    for layer in prefix:
        fresh = layer.__class__.from_config(layer.get_config())
        h = fresh(h)
        fresh.set_weights(layer.get_weights())
    qat = keras.Model(inputs, qcore(h), name=f"{model.name}_qat")
    _fit(qat, data, config.qat_epochs, config.qat_learning_rate, config, keras, [], "quantization-aware training", progress)
    return qat


def _copy_weights(src, dst, skip: set[str] = frozenset()) -> None:
    """Copy weights layer by layer; ``clone_model`` keeps the layer order (wrappers rename layers)."""
    for layer, target in zip(src.layers, dst.layers):
        if layer.name in skip or not layer.weights:
            continue
        getattr(target, "layer", target).set_weights(layer.get_weights())


def compress_run(run_dir: str | os.PathLike, config: CompressConfig, progress: bool = False) -> dict:
    """Prune and/or QAT the run's model; writes the compressed models and ``compress.json``."""
    from edgeward.train.tf_env import keras as load_keras_module

    run = Path(run_dir)
    base = run / BASE_MODEL
    if keras_flavor(base) is KerasFlavor.KERAS3:
        raise InputError(
            f"{base}: is a Keras 3 model, and pruning and quantization-aware training need tf_keras (Keras 2): "
            "TensorFlow Model Optimization does not support Keras 3. What works instead: post-training int8 "
            f"quantization at export (`edgeward export {run} --precision int8`), or rebuild the model with tf_keras"
        )
    if read_report(run).get("task") == "detect":
        raise InputError(f"{run}: pruning and quantization-aware training of detection models are not supported yet; "
                         f"post-training int8 at export works (`edgeward export {run} --precision int8`)")
    if config.sparsity is None and not config.qat:
        raise InputError("compress: expected --sparsity and/or --qat, got neither")
    if config.sparsity is not None and not 0.0 < config.sparsity < 1.0:
        raise InputError(f"compress: expected a sparsity between 0 and 1, got {config.sparsity}")
    keras = load_keras_module()
    keras.utils.set_random_seed(config.seed)
    data = load_task_data(run)
    model, _ = load_keras(base)
    report: dict = {"config": asdict(config), "metric": data.metric_name,
                    "base": {"metric": data.metric(data.y_test, model.predict(data.x_test, verbose=0))}}
    source = model
    if config.sparsity is not None:
        started = time.perf_counter()
        source = prune(model, data, config, keras, progress)
        source.save(run / PRUNED_MODEL)
        report["pruned"] = {"file": PRUNED_MODEL, "seconds": round(time.perf_counter() - started, 2),
                            "sparsity": layer_sparsity(source, keras),
                            "metric": data.metric(data.y_test, source.predict(data.x_test, verbose=0))}
    if config.qat:
        started = time.perf_counter()
        qat = quantize_aware(source, data, config, keras, preserve_sparsity=config.sparsity is not None, progress=progress)
        name = PRUNED_QAT_MODEL if config.sparsity is not None else QAT_MODEL
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "HDF5 is legacy": QAT layers do not round-trip in .keras
            qat.save(run / name)
        report["pruned-qat" if config.sparsity is not None else "qat"] = {
            "file": name, "seconds": round(time.perf_counter() - started, 2), "sparsity": layer_sparsity(qat, keras),
            "metric": data.metric(data.y_test, qat.predict(data.x_test, verbose=0))}
    path = run / COMPRESS_FILE
    merged = json.loads(path.read_text()) if path.exists() else {}
    merged.update(report)  # a later run of compress adds its models to the record
    path.write_text(json.dumps(merged, indent=2))
    return report
