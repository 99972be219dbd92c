"""ONNX export (tf2onnx) with the manifest embedded in ``metadata_props``."""

from __future__ import annotations

import os
from pathlib import Path

from edgeward.errors import ExportError, require
from edgeward.manifest import METADATA_KEY, Manifest

OPSET = 17


def keras_to_onnx(model, input_name: str, path: str | os.PathLike, manifest_for) -> Path:
    """Convert a tf_keras model, embed ``manifest_for(output_names)``, write ``path``.

    ``manifest_for`` receives the ONNX output names and returns the Manifest; the model itself is
    not modified.
    """
    from edgeward.train.tf_env import tensorflow

    tf = tensorflow()
    tf2onnx = require("tf2onnx", "train")
    spec = (tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32, name=input_name),)
    try:
        proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=OPSET)
    except Exception as exc:  # tf2onnx raises many exception types; report the first line
        raise ExportError(f"tf2onnx could not convert the model: {str(exc).strip().splitlines()[0]}") from None
    manifest = manifest_for([o.name for o in proto.graph.output])
    embed_manifest(proto, manifest)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(proto.SerializeToString())
    return path


def embed_manifest(proto, manifest: Manifest) -> None:
    """Set (or replace) the manifest entry of an ONNX ModelProto's metadata_props."""
    for prop in list(proto.metadata_props):
        if prop.key == METADATA_KEY:
            proto.metadata_props.remove(prop)
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, manifest.to_json()
