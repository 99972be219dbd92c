"""Provenance for the manifest: package versions, hashes of the source model, data and code."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import edgeward
from edgeward.core.hashing import tree_sha256
from edgeward.core.manifest import Provenance

PACKAGES = ("tensorflow", "tf-keras", "tensorflow-model-optimization", "tf2onnx", "onnx", "onnxruntime", "ai-edge-litert")
PACKAGE_ROOT = Path(edgeward.__file__).resolve().parent.parent


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def code_sha256() -> str:
    """One hash over edgeward's Python sources, in a stable order."""
    h = hashlib.sha256()
    for folder in ("edgeward", "train", "export", "runtime", "devices"):  # the package's folders (pyproject.toml)
        for path in sorted((PACKAGE_ROOT / folder).rglob("*.py")):
            h.update(str(path.relative_to(PACKAGE_ROOT)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def provenance(source_model: Path, data_sha256: str) -> Provenance:
    return Provenance(
        edgeward=edgeward.__version__, packages=package_versions(),
        source_model_sha256=tree_sha256(source_model), data_sha256=data_sha256, code_sha256=code_sha256(),
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
