"""TFLite export (fp32 for now) with the manifest in the flatbuffer's ``metadata``.

The manifest goes into a buffer named by a ``Metadata`` entry (``METADATA_KEY``), as TFLite's own
metadata does, so it travels inside the file and LiteRT ignores it. The runtime reads it back
without TensorFlow (``edgeward.runtime.tflite_metadata``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from edgeward.errors import ExportError
from edgeward.manifest import METADATA_KEY, Manifest


def keras_to_tflite(model, path: str | os.PathLike, manifest_for) -> Path:
    """Convert a tf_keras model to fp32 TFLite, embed ``manifest_for(output_names)``, write ``path``."""
    from edgeward.train.tf_env import tensorflow

    tf = tensorflow()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    try:
        data = converter.convert()
    except Exception as exc:  # the converter raises ConverterError and others; report the first line
        raise ExportError(f"TFLite conversion failed: {str(exc).strip().splitlines()[0]}") from None
    manifest = manifest_for([t.name for t in model.outputs])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(embed_manifest(data, manifest))
    return path


def embed_manifest(data: bytes, manifest: Manifest) -> bytes:
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
