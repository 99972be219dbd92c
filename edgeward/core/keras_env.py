"""TensorFlow and Keras, imported the way TFMOT and tf2onnx need them (model files: ``model_files``).

``TF_USE_LEGACY_KERAS=1`` must be set before TensorFlow is first imported (see the stack notes); this
happens when a training or export function first needs TensorFlow, never at import time.
"""

from __future__ import annotations

import os
import sys

from edgeward.core.errors import require


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
