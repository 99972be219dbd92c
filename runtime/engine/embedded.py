"""The manifest embedded in a model file, read from its bytes without opening the model in a runtime (no
inference session): from an ONNX file's metadata properties or a TFLite file's metadata buffer."""

from __future__ import annotations

from edgeward.core.errors import ManifestError, ModelFileError
from edgeward.core.manifest import METADATA_KEY, Manifest
from edgeward.runtime.engine.protowire import onnx_metadata
from edgeward.runtime.engine.sessions import is_tflite
from edgeward.runtime.engine.tflite_metadata import read_metadata


def manifest_of(data: bytes, source: str) -> Manifest:
    """The embedded manifest of an ONNX or TFLite file, read from the bytes."""
    if is_tflite(data):
        text = read_metadata(data, source).get(METADATA_KEY)
    else:
        try:
            text = onnx_metadata(data).get(METADATA_KEY)
        except ValueError as exc:
            raise ModelFileError(f"{source}: expected an ONNX or TFLite model, got bytes that are neither ({exc})") from None
    if text is None:
        raise ManifestError(f"{source}: no edgeward manifest in the file (metadata key '{METADATA_KEY}')")
    return Manifest.from_json(text, source)
