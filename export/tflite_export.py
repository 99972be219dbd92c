"""TFLite conversion in every precision, with the manifest in the flatbuffer's ``metadata``.

The manifest goes into a buffer named by a ``Metadata`` entry (``METADATA_KEY``), as TFLite's own
metadata does, so it travels inside the file and LiteRT ignores it. The runtime reads it back
without TensorFlow (``edgeward.runtime.tflite_metadata``). Only TFLite builtin ops are allowed: the
Flex delegate is not shipped in the LiteRT wheels, so an op outside the builtins fails the export
with the op's name.
"""

from __future__ import annotations

import re
import warnings

import numpy as np

from edgeward.core.errors import ExportError
from edgeward.core.manifest import METADATA_KEY, Manifest
from edgeward.core.quiet import quiet_stderr
from edgeward.export.artifacts import ArtifactSpec, Precision

_UNSUPPORTED_OP = re.compile(r"'tf\.(\w+)' op is neither a custom op nor a flex op")
_FLEX_OPS = re.compile(r"Flex ops: ([\w, ]+)")


def keras_to_tflite(model, spec: ArtifactSpec, representative: np.ndarray | None = None, keras3: bool = False) -> bytes:
    """TFLite bytes for ``spec``'s precision. ``representative``: real training samples (full-integer int8)."""
    from edgeward.core.keras_env import tensorflow

    tf = tensorflow()
    if keras3:  # trace, freeze the variables into constants, convert the frozen function
        from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

        frozen = convert_variables_to_constants_v2(_traced(tf, model, None))
        converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    elif _dilated(model):  # fixed at one window: with an open batch the converter cannot fuse a dilated conv
        converter = tf.lite.TFLiteConverter.from_concrete_functions([_traced(tf, model, 1)], model)
    else:
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if spec.source.is_qat or spec.precision is Precision.INT8_DYNAMIC:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif spec.precision is Precision.FP16:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif spec.precision is Precision.INT8:
        if representative is None:
            raise ExportError("full-integer int8 TFLite needs representative samples, got none")
        samples = representative.astype(np.float32)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([samples[i : i + 1]] for i in range(len(samples)))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if spec.int8_io:
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
    try:
        with quiet_stderr() as log, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Statistics for quantized inputs were expected" on QAT graphs, and such
            return converter.convert()
    except Exception as exc:  # ConverterError and friends
        text = f"{exc}\n{log()}"
        ops = sorted(set(_UNSUPPORTED_OP.findall(text)) | {o.strip() for m in _FLEX_OPS.findall(text) for o in m.split(",")})
        if ops:
            raise ExportError(
                f"TFLite export needs op(s) {', '.join(ops)} outside the TFLite builtins; they would need the Flex "
                "delegate, which LiteRT does not ship: replace the layer that uses them, or export to ONNX"
            ) from None
        first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise ExportError(f"TFLite conversion failed: {first}") from None


def _traced(tf, model, batch: int | None):
    """The model's inference as a concrete function of one input, ``batch`` rows (None: any)."""
    shape = (batch, *model.inputs[0].shape[1:])
    fn = tf.function(lambda x: model(x, training=False), input_signature=(tf.TensorSpec(shape, tf.float32),))
    return fn.get_concrete_function()


def _dilated(model) -> bool:
    """Whether a (tf_keras) model has a dilated convolution at any depth (QAT wraps layers and models).
    With an open batch the converter writes each as space-to-batch, conv, batch-to-space, leaving the batch
    norm after it unfolded; with the batch fixed it fuses them into one conv (the runtime resizes the batch)."""
    return any(max(getattr(layer, "dilation_rate", None) or (1,)) > 1 for layer in model.submodules)


def with_manifest(data: bytes, manifest: Manifest) -> bytes:
    """A copy of the TFLite flatbuffer with the manifest added (or replaced) as metadata."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(manifest.to_json().encode(), dtype=np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = METADATA_KEY, len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if m.name not in (METADATA_KEY, METADATA_KEY.encode())] + [entry]
    builder = flatbuffers.Builder(len(data) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
