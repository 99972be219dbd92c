"""TensorFlow and Keras, imported the way TFMOT and tf2onnx need them, and Keras model files of either flavour.

``TF_USE_LEGACY_KERAS=1`` must be set before TensorFlow is first imported (see the stack notes); this
happens when a training or export function first needs TensorFlow, never at import time. A ``.keras``
file records the Keras version that saved it in ``metadata.json``; ``.h5`` files are tf_keras (QAT models
are saved so, since TFMOT's quantize layers do not round-trip in ``.keras``).
"""

from __future__ import annotations

import json
import os
import sys
import zipfile
from enum import Enum
from pathlib import Path

from edgeward.core.errors import InputError, ModelFileError, require


def tensorflow():
    """The tensorflow module, imported quietly (its C++ start-up lines go to fd 2 whatever the log level)."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    from edgeward.core.quiet import quiet_stderr

    with quiet_stderr():
        tf = require("tensorflow", "train")
        tf.config.list_physical_devices()
    tf.get_logger().setLevel("ERROR")
    return tf


def tf_keras():
    """The tf_keras module (Keras 2), with TensorFlow imported quietly."""
    tensorflow()
    return require("tf_keras", "train")


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


def load_model(path: str | os.PathLike):
    """The model and its flavour. QAT models (.h5) load inside TFMOT's quantize scope."""
    flavor = keras_flavor(path)
    if flavor is KerasFlavor.KERAS3:
        tensorflow()
        import keras as keras3

        return keras3.saving.load_model(path, compile=False), flavor
    keras = tf_keras()
    if Path(path).suffix == ".h5":
        tfmot = require("tensorflow_model_optimization", "train")
        with tfmot.quantization.keras.quantize_scope({}):
            return keras.models.load_model(path, compile=False), flavor
    return keras.models.load_model(path, compile=False), flavor
