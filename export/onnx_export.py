"""ONNX conversion (tf2onnx) of tf_keras and Keras 3 models, fp16 conversion, and the manifest entry."""

from __future__ import annotations

from edgeward.errors import ExportError, require
from edgeward.export.quiet import quiet_stderr
from edgeward.manifest import METADATA_KEY, Manifest

OPSET = 17


def keras_to_onnx(model, input_name: str, keras3: bool = False):
    """An ONNX ModelProto with one input named ``input_name`` and a free batch dimension.

    tf_keras models go through ``from_keras``; Keras 3 models through a ``tf.function`` (tf2onnx's
    Keras path does not know Keras 3).
    """
    from edgeward.train.tf_env import tensorflow

    tf = tensorflow()
    tf2onnx = require("tf2onnx", "train")
    shape = (None, *model.inputs[0].shape[1:])
    spec = (tf.TensorSpec(shape, tf.float32, name=input_name),)
    try:
        with quiet_stderr():
            if keras3:
                fn = tf.function(lambda x: model(x, training=False), input_signature=spec)
                proto, _ = tf2onnx.convert.from_function(fn, input_signature=spec, opset=OPSET)
            else:
                proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=OPSET)
    except Exception as exc:  # tf2onnx raises many exception types; report the first line
        raise ExportError(f"tf2onnx could not convert the model: {str(exc).strip().splitlines()[0]}") from None
    return proto


def to_fp16(proto):
    """fp16 weights and activations, float32 inputs and outputs (onnxruntime's converter)."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    return convert_float_to_float16(proto, keep_io_types=True, disable_shape_infer=False)


def embed_manifest(proto, manifest: Manifest) -> None:
    """Set (or replace) the manifest entry of an ONNX ModelProto's metadata_props."""
    for prop in list(proto.metadata_props):
        if prop.key == METADATA_KEY:
            proto.metadata_props.remove(prop)
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, manifest.to_json()


def with_manifest(data: bytes, manifest: Manifest) -> bytes:
    import onnx

    proto = onnx.load_from_string(data)
    embed_manifest(proto, manifest)
    return proto.SerializeToString()
