"""``edgeward verify MODEL [--key PUB]``: is this file intact, and (with a key) did the key's holder make it?

The manifest's provenance records the file's own SHA-256 (``edgeward.core.seal``); this recomputes it, reading
the manifest without opening the model in a runtime (no TensorFlow, no inference session). That proves the file
was not damaged or edited by someone who did not re-seal it; anyone can re-seal an edited file. With ``key``, the
file's detached signature (``FILE.sig``, ``edgeward.core.signing``) is checked against the public key the user
holds: that proves every byte is as the holder of the private key signed it."""

from __future__ import annotations

import os
from dataclasses import dataclass

from edgeward.core.errors import ManifestError, ModelFileError
from edgeward.core.manifest import Manifest
from edgeward.core.seal import artifact_sha256
from edgeward.core.signing import Signature, check_signature
from edgeward.runtime.engine.catalogue import read_model_bytes
from edgeward.runtime.engine.embedded import manifest_of


@dataclass(frozen=True)
class Verified:
    source: str
    manifest: Manifest
    sha256: str  # the file's hash, as the seal defines it
    signature: Signature | None = None  # checked against the public key given; None: no key given

    @property
    def proves(self) -> str:
        """What the check shows, and what it does not, in words."""
        if self.signature:
            return f"signed by key {self.signature.key_id}: every byte as that key's holder signed it"
        return ("intact since it was sealed; this does not show who made it (anyone can re-seal an edited file): "
                "check a signature with --key PUB")


def verify_model(source: str | os.PathLike, key: str | os.PathLike | None = None) -> Verified:
    """The model's manifest and hash when the file is as exported; ``ModelFileError`` naming both hashes when
    it was changed, ``ManifestError`` when its manifest records no hash (exported before edgeward 0.3). ``key``:
    a public key (``edgeward keys``) the file's signature must match, checked first."""
    data, name = read_model_bytes(source)
    signature = check_signature(data, name, key) if key else None
    manifest = manifest_of(data, name)
    recorded = manifest.provenance.artifact_sha256
    if not recorded:
        raise ManifestError(f"{name}: the manifest records no artifact_sha256 (exported before edgeward 0.3): "
                            "nothing to verify against; export it again")
    try:
        actual = artifact_sha256(data, recorded)
    except ValueError:
        actual = ""
    if actual != recorded:
        raise ModelFileError(f"{name}: modified since export: its SHA-256 is {actual or '(the recorded hash is gone)'}, "
                             f"the manifest's provenance records {recorded}")
    return Verified(name, manifest, actual, signature)
