"""Hashes of data files and dataset folders, recorded by training and carried into every manifest."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def folder_sha256(folder: str | os.PathLike) -> str:
    """A hash over a dataset folder: every file's relative name and size, and the contents of the text
    files (label lists, annotation files). Hashing every image or clip byte would be slow."""
    h = hashlib.sha256()
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(folder)).encode())
            h.update(str(path.stat().st_size).encode())
            if path.suffix in (".txt", ".yaml", ".json"):
                h.update(bytes.fromhex(file_sha256(path)))
    return h.hexdigest()


def tree_sha256(path: str | os.PathLike) -> str:
    """A file's hash, or a folder's over every file's relative name and bytes (a SavedModel)."""
    path = Path(path)
    if path.is_file():
        return file_sha256(path)
    h = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(str(item.relative_to(path)).encode())
        h.update(bytes.fromhex(file_sha256(item)))
    return h.hexdigest()


def data_sha256(path: str | os.PathLike) -> str:
    """A file's hash, or a folder's (``folder_sha256``)."""
    return folder_sha256(path) if Path(path).is_dir() else file_sha256(path)
