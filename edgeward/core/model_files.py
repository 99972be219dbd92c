"""Keras model files as users bring them, loaded safely.

``.keras`` (Keras 3 or tf_keras: ``metadata.json`` says which), ``.h5`` (tf_keras; QAT models are saved so),
and SavedModel folders: tf_keras' ``model.save(dir)`` (it writes ``keras_metadata.pb``) loads as a Keras
model; any other SavedModel with a ``serving_default`` signature (Keras 3's ``model.export(dir)``, plain
``tf.saved_model.save``) is run through that signature (``SignatureModel``).

A Lambda layer is Python bytecode stored in the file: loading it runs code of the file's author. Keras 3's
safe mode refuses it in ``.keras`` files, but nothing guards ``.h5`` files or SavedModels, so every format's
config is decoded as Keras will decode it and walked whole (``keras_scan``) before it is loaded, and code is
refused unless ``unsafe`` is given; the sizes the file declares are bounded first. Custom layers come
from a Python file the user names (``custom_objects``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import zipfile
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from edgeward.core.errors import InputError, ModelFileError, require
from edgeward.core.keras_env import tensorflow, tf_keras
from edgeward.core.keras_scan import check_keras_zip, code_layers, file_configs, zip_member


class KerasFlavor(str, Enum):
    TF_KERAS = "tf_keras"  # Keras 2: compression, export and quantization
    KERAS3 = "keras3"  # export and post-training quantization only (TFMOT does not support Keras 3)
    SAVED_MODEL = "saved-model"  # a SavedModel's serving signature: export and post-training quantization

    @property
    def traced(self) -> bool:
        """Converted through a traced, frozen function (tf2onnx's and the TFLite converter's Keras paths
        know tf_keras only)."""
        return self is not KerasFlavor.TF_KERAS


def keras_flavor(path: str | os.PathLike) -> KerasFlavor:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: Keras model file not found")
    if path.is_dir():
        if not (path / "saved_model.pb").exists():
            raise InputError(f"{path}: expected a SavedModel folder (with saved_model.pb), a .keras or a .h5 file")
        return KerasFlavor.TF_KERAS if (path / "keras_metadata.pb").exists() else KerasFlavor.SAVED_MODEL
    if path.suffix == ".h5":
        return KerasFlavor.TF_KERAS
    if path.suffix != ".keras":
        raise InputError(f"{path}: expected a .keras or .h5 Keras model or a SavedModel folder, got '{path.suffix}'")
    try:
        with zipfile.ZipFile(path) as z:
            check_keras_zip(z, str(path))
            version = json.loads(zip_member(z, "metadata.json", str(path)))["keras_version"]
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, KeyError, TypeError, AttributeError, ValueError, RecursionError) as exc:
        raise ModelFileError(f"{path}: not a readable .keras file ({type(exc).__name__}: {exc})") from None
    if not isinstance(version, str):
        raise ModelFileError(f"{path}: metadata.json field 'keras_version': expected a version string, got {version!r}")
    return KerasFlavor.KERAS3 if version.split(".")[0] == "3" else KerasFlavor.TF_KERAS


def custom_objects_from(file: str | os.PathLike) -> dict:
    """The classes and functions a user's Python file defines (it is run: the user names it)."""
    file = Path(file)
    if not file.is_file() or file.suffix != ".py":
        raise InputError(f"--custom-objects: expected a Python file (.py) that defines the model's custom layers, got {file}")
    tensorflow()  # imported quietly before the user's file imports it
    spec = importlib.util.spec_from_file_location(f"edgeward_custom_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's code: any error, reported with its first line
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise InputError(f"{file}: running it failed: {type(exc).__name__}: {first}") from None
    return {name: obj for name, obj in vars(module).items() if not name.startswith("_") and callable(obj)
            and getattr(obj, "__module__", "") == module.__name__}


_UNKNOWN = re.compile(r"Could not locate (?:class|function) '(\w+)'|Unknown (?:layer|object|activation)[^:]*: '?(\w+)")


def load_model(path: str | os.PathLike, custom_objects: str | os.PathLike | None = None, unsafe: bool = False):
    """The model and its flavour. ``custom_objects``: a Python file defining the model's custom layers.
    ``unsafe``: load Lambda layers (they run code stored in the file)."""
    path = Path(path)
    flavor = keras_flavor(path)
    configs = file_configs(path)  # sizes checked, configs decoded as Keras will: before Keras reads a byte
    if not unsafe:
        lambdas = [name for config in configs for name in code_layers(config)]
        if lambdas:
            raise InputError(f"{path}: layer '{lambdas[0]}' is a Lambda layer ({len(lambdas)} in all): loading it runs "
                             "Python code stored in the file; pass --unsafe if you trust the file's author")
    objects = custom_objects_from(custom_objects) if custom_objects else {}
    try:
        return _load(path, flavor, objects, unsafe), flavor
    except MemoryError:
        raise ModelFileError(f"{path}: the model needs more memory than this machine has") from None
    except tensorflow().errors.ResourceExhaustedError as exc:
        raise ModelFileError(f"{path}: the model needs more memory than this machine has "
                             f"({str(exc).splitlines()[0][:200]})") from None
    except (ValueError, TypeError, KeyError, OSError) as exc:
        text = str(exc)
        unknown = _UNKNOWN.search(text)
        if unknown:
            name = unknown.group(1) or unknown.group(2)
            hint = f"{custom_objects} does not define it" if custom_objects else \
                "pass --custom-objects FILE.py, a Python file that defines it"
            raise InputError(f"{path}: the model uses '{name}', which Keras cannot find: {hint}") from None
        if "safe_mode" in text or "unsafe" in text.lower():
            raise InputError(f"{path}: Keras' safe mode refused the file (it holds Python code: a lambda); pass "
                             "--unsafe if you trust the file's author") from None
        first = next((line for line in text.splitlines() if line.strip()), type(exc).__name__)
        raise ModelFileError(f"{path}: cannot load the model: {first.strip()}") from None


def load_run_model(run, source: str = "base"):
    """A run directory's (``RunDir``) Keras model of ``source`` and its flavour, with the run's custom layers and
    its ``--unsafe`` choice."""
    record = run.record()
    code = run.path / record.custom_objects if record.custom_objects else None
    return load_model(run.source_model(source), custom_objects=code, unsafe=record.unsafe)


def _load(path: Path, flavor: KerasFlavor, objects: dict, unsafe: bool):
    if flavor is KerasFlavor.SAVED_MODEL:
        return SignatureModel(path)
    if flavor is KerasFlavor.KERAS3:
        tensorflow()
        import keras as keras3

        return keras3.saving.load_model(path, compile=False, custom_objects=objects, safe_mode=not unsafe)
    keras = tf_keras()
    if path.suffix == ".h5":
        tfmot = require("tensorflow_model_optimization", "train")
        with tfmot.quantization.keras.quantize_scope(objects):
            return keras.models.load_model(path, compile=False, custom_objects=objects)
    if path.is_dir():
        return keras.models.load_model(path, compile=False, custom_objects=objects)
    return keras.models.load_model(path, compile=False, custom_objects=objects, safe_mode=not unsafe)


@dataclass(frozen=True)
class TensorSpec:
    """A model input: its name, shape (None: free) and dtype."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str


def input_specs(model) -> list[TensorSpec]:
    """A Keras model's (or a ``SignatureModel``'s) inputs, in the order it takes them."""
    tf = tensorflow()
    specs = []
    for i, t in enumerate(model.inputs):
        name = (getattr(t, "name", None) or f"input_{i}").split(":")[0]
        shape = tuple(None if d is None else int(d) for d in t.shape)
        specs.append(TensorSpec(name, shape, tf.as_dtype(t.dtype).name))
    return specs


def output_names(model) -> list[str]:
    names = list(getattr(model, "output_names", None) or [])
    return names or [f"output_{i}" for i in range(len(model.outputs))]


class SignatureModel:
    """A SavedModel's ``serving_default`` signature with the parts of a Keras model's face that export uses:
    ``inputs`` (name, shape, dtype), ``output_names`` (the signature's, sorted), ``model(x)``, ``predict``,
    ``count_params``; it has no ``layers``."""

    layers: list = []

    def __init__(self, path: Path):
        tf = tensorflow()
        try:
            self._loaded = tf.saved_model.load(str(path))
        except Exception as exc:  # TensorFlow raises many types for unreadable SavedModels
            raise ModelFileError(f"{path}: not a loadable SavedModel ({str(exc).splitlines()[0]})") from None
        signatures = self._loaded.signatures
        if "serving_default" not in signatures:
            raise ModelFileError(f"{path}: expected a SavedModel with a 'serving_default' signature, got {sorted(signatures)}")
        self._fn = signatures["serving_default"]
        _, named = self._fn.structured_input_signature
        self.inputs = [TensorSpec(n, tuple(s.shape), s.dtype.name) for n, s in named.items()]
        self.output_names = sorted(self._fn.structured_outputs)
        self.name = path.name

    def __call__(self, x, training: bool = False):
        tf = tensorflow()
        xs = list(x) if isinstance(x, (list, tuple)) else [x]
        out = self._fn(**{i.name: tf.convert_to_tensor(v, dtype=i.dtype) for i, v in zip(self.inputs, xs)})
        outs = [out[k] for k in self.output_names]
        return outs if len(outs) > 1 else outs[0]

    def predict(self, x, batch_size: int = 256, verbose: int = 0):
        import numpy as np

        xs = list(x) if isinstance(x, (list, tuple)) else [x]
        parts = []
        for start in range(0, len(xs[0]), batch_size):
            out = self([v[start:start + batch_size] for v in xs])
            parts.append([o.numpy() for o in (out if isinstance(out, list) else [out])])
        outs = [np.concatenate([p[k] for p in parts]) for k in range(len(self.output_names))]
        return outs if len(outs) > 1 else outs[0]

    def count_params(self) -> int:
        return int(sum(v.shape.num_elements() for v in getattr(self._loaded, "variables", [])))
