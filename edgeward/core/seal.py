"""The artifact's own hash, recorded in its manifest: ``provenance.artifact_sha256`` is the SHA-256 of the
file as written, with those 64 characters as zeros. Any change to the file after export (weights, graph or
manifest) changes the hash; ``edgeward verify`` recomputes it.

Sealing writes the hash in place of the zeros: the manifest keeps its length, so neither the ONNX protobuf
nor the TFLite flatbuffer changes anywhere else.
"""

from __future__ import annotations

import hashlib

FIELD = b'"artifact_sha256": "'  # as Manifest.to_json writes it (json.dumps, sorted keys)
UNSEALED = "0" * 64


def _at(data: bytes, value: str) -> int:
    needle = FIELD + value.encode()
    at = data.find(needle)
    if at < 0 or data.find(needle, at + 1) >= 0:
        raise ValueError(f"expected the manifest field artifact_sha256 = {value[:12]}... once in the file")
    return at + len(FIELD)


def seal(data: bytes) -> bytes:
    """The file with its hash written into the manifest (which holds ``UNSEALED``)."""
    at = _at(data, UNSEALED)
    return data[:at] + hashlib.sha256(data).hexdigest().encode() + data[at + 64:]


def artifact_sha256(data: bytes, recorded: str) -> str:
    """The hash of the file as it was sealed, if it was not changed since: the recorded value zeroed again."""
    at = _at(data, recorded)
    return hashlib.sha256(data[:at] + UNSEALED.encode() + data[at + 64:]).hexdigest()
