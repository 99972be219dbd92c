"""Import TensorFlow and tf_keras the way TFMOT and tf2onnx need them.

``TF_USE_LEGACY_KERAS=1`` must be set before TensorFlow is first imported (see stack notes); this
happens when a training or export function first needs TensorFlow, never at import time.
"""

from __future__ import annotations

import os

from edgeward.errors import require


def keras():
    """The tf_keras module (Keras 2), with TensorFlow imported quietly."""
    tensorflow()
    return require("tf_keras", "train")


def tensorflow():
    import sys

    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    from edgeward.quiet import quiet_stderr

    # TensorFlow's C++ start-up lines (absl, oneDNN, CUDA probing) go to fd 2 whatever the log level
    with quiet_stderr():
        tf = require("tensorflow", "train")
        tf.config.list_physical_devices()
    tf.get_logger().setLevel("ERROR")
    return tf
