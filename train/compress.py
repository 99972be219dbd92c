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

import time
import warnings
from dataclasses import asdict, dataclass

import numpy as np

from edgeward.core.config import at_least, check, option
from edgeward.core.errors import ConfigError, InputError
from edgeward.core.keras_env import tf_keras
from edgeward.core.model_files import KerasFlavor, keras_flavor, load_run_model
from edgeward.core.registry import get_task
from edgeward.core.rundir import RunDir
from edgeward.core.task import TaskData
from edgeward.train.loop import epoch_bar, fit


@dataclass(frozen=True)
class CompressConfig:
    sparsity: float | None = option(None, "magnitude pruning to this share of zero weights, e.g. 0.5 (default: none)")
    qat: bool = option(False, "quantization-aware training (after pruning, the zeros are kept)")
    prune_epochs: int = option(4, "fine-tuning epochs while pruning")
    qat_epochs: int = option(3, "quantization-aware training epochs")
    prune_learning_rate: float = option(5e-4, "Adam's learning rate while pruning")
    qat_learning_rate: float = option(1e-4, "Adam's learning rate in quantization-aware training")
    batch_size: int = option(512, "rows per batch")
    seed: int = option(0, "random seed")

    def __post_init__(self):
        if self.sparsity is None and not self.qat:
            raise ConfigError("sparsity (--sparsity) and qat (--qat): expected one or both, got neither")
        if self.sparsity is not None:
            check(self, "sparsity", 0.0 < self.sparsity < 1.0, "a share between 0 and 1")
        at_least(self, 1, "prune_epochs", "qat_epochs", "batch_size")
        check(self, "prune_learning_rate", self.prune_learning_rate > 0, "a number > 0")
        check(self, "qat_learning_rate", self.qat_learning_rate > 0, "a number > 0")


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
    model.compile(optimizer=keras.optimizers.Adam(lr), loss=data.loss)
    fit(model, data.x_train, data.y_train, validation=(data.x_val, data.y_val), epochs=epochs, batch_size=config.batch_size,
        class_weight=data.class_weight, callbacks=[*callbacks, epoch_bar(keras, epochs, desc, progress)])


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


def compress_run(run_dir, config: CompressConfig, progress: bool = False) -> dict:
    """Prune and/or QAT the run's model; writes the compressed models and ``compress.json``."""
    run = RunDir(run_dir)
    record = run.record()
    spec = get_task(record.task)
    flavor = keras_flavor(run.model)
    if flavor.traced:
        what = "a Keras 3 model" if flavor is KerasFlavor.KERAS3 else "a SavedModel signature, not Keras layers"
        raise InputError(
            f"{run.model}: is {what}, and pruning and quantization-aware training need tf_keras (Keras 2): "
            "TensorFlow Model Optimization does not support Keras 3. What works instead: post-training int8 "
            f"quantization at export (`edgeward export {run} --precision int8`), or rebuild the model with tf_keras"
        )
    if spec.compress_refusal:
        raise InputError(f"{run}: {spec.compress_refusal}; post-training int8 at export works "
                         f"(`edgeward export {run} --precision int8`)")
    keras = tf_keras()
    keras.utils.set_random_seed(config.seed)
    data = spec.splits(run, record)
    metric = spec.contract(run, record).metric
    model, _ = load_run_model(run)
    report: dict = {"config": asdict(config), "metric": metric.__name__,
                    "base": {"metric": metric(data.y_test, model.predict(data.x_test, verbose=0))}}
    source = model
    if config.sparsity is not None:
        started = time.perf_counter()
        source = prune(model, data, config, keras, progress)
        source.save(run.source_model("pruned"))
        report["pruned"] = {"file": run.source_model("pruned").name, "seconds": round(time.perf_counter() - started, 2),
                            "sparsity": layer_sparsity(source, keras),
                            "metric": metric(data.y_test, source.predict(data.x_test, verbose=0))}
    if config.qat:
        started = time.perf_counter()
        qat = quantize_aware(source, data, config, keras, preserve_sparsity=config.sparsity is not None, progress=progress)
        key = "pruned-qat" if config.sparsity is not None else "qat"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "HDF5 is legacy": QAT layers do not round-trip in .keras
            qat.save(run.source_model(key))
        report[key] = {"file": run.source_model(key).name, "seconds": round(time.perf_counter() - started, 2),
                       "sparsity": layer_sparsity(qat, keras),
                       "metric": metric(data.y_test, qat.predict(data.x_test, verbose=0))}
    merged = run.read_json(run.compress_file) or {}
    merged.update(report)  # a later run of compress adds its models to the record
    run.write_json(run.compress_file, merged)
    return report
