"""Load Keras models of either flavour: tf_keras (Keras 2, what TFMOT needs) or Keras 3.

A ``.keras`` file records the Keras version that saved it in ``metadata.json``; ``.h5`` files are
tf_keras (QAT models are saved so, since TFMOT's quantize layers do not round-trip in ``.keras``).
"""

from __future__ import annotations

import json
import os
import zipfile
from enum import Enum
from pathlib import Path

from edgeward.errors import InputError, ModelFileError


class KerasFlavor(str, Enum):
    TF_KERAS = "tf_keras"  # Keras 2: compression, export and quantization
    KERAS3 = "keras3"  # export and post-training quantization only (TFMOT does not support Keras 3)


def keras_flavor(path: str | os.PathLike) -> KerasFlavor:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: Keras model file not found")
    if path.suffix == ".h5":
        return KerasFlavor.TF_KERAS
    if path.suffix != ".keras":
        raise InputError(f"{path}: expected a .keras or .h5 Keras model, got '{path.suffix}'")
    try:
        with zipfile.ZipFile(path) as z:
            version = json.loads(z.read("metadata.json"))["keras_version"]
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: not a readable .keras file ({exc})") from None
    return KerasFlavor.KERAS3 if version.split(".")[0] == "3" else KerasFlavor.TF_KERAS


def load_keras(path: str | os.PathLike):
    """The model, and its flavour. QAT models (.h5) load inside TFMOT's quantize scope."""
    from edgeward.train.tf_env import keras, tensorflow

    flavor = keras_flavor(path)
    if flavor is KerasFlavor.KERAS3:
        tensorflow()
        import keras as keras3

        return keras3.saving.load_model(path, compile=False), flavor
    tfk = keras()
    if Path(path).suffix == ".h5":
        from edgeward.train.compress import custom_objects, quantize_scope

        with quantize_scope(custom_objects()):
            return tfk.models.load_model(path, compile=False), flavor
    return tfk.models.load_model(path, compile=False), flavor
