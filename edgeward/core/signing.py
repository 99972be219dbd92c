"""Signed artifacts: proof of who made a model file, which its own hash cannot give.

The manifest's hash (``seal``) is written by whoever writes the file, so a file edited and re-sealed passes
``verify`` without ``--key``: it proves the file is intact, not where it came from. A signature does: an
Ed25519 key pair (``edgeward keys NAME``: ``NAME.key``, private, mode 0600; ``NAME.pub``, to hand out), a
detached ``FILE.sig`` beside each artifact signed by the private key over every byte of the file, and a check
against the public key the user holds (``edgeward verify --key NAME.pub``, ``Model(..., require_signature=PUB)``).

``FILE.sig`` is one line of JSON: ``{"algorithm": "ed25519", "key_id": ..., "sha256": ..., "signature": ...}``
(``key_id``: the first 16 hex digits of the SHA-256 of the raw public key; ``signature``: base64, over the file's
SHA-256 with a domain prefix). Needs ``cryptography`` (the ``sign`` extra), imported only when signatures are used.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from edgeward.core.errors import InputError, ModelFileError, require
from edgeward.core.files import read_regular

SUFFIX = ".sig"
ALGORITHM = "ed25519"
DOMAIN = b"edgeward artifact signature v1\n"  # a signature made here means nothing to another protocol
MAX_KEY_BYTES = 64 << 10
MAX_SIG_BYTES = 4 << 10


def _crypto():
    require("cryptography", "sign")
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return ed25519, serialization, InvalidSignature


def key_id(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:16]


def make_keys(stem: str | os.PathLike) -> tuple[Path, Path]:
    """``STEM.key`` (private, 0600) and ``STEM.pub``; an existing file is never overwritten."""
    ed25519, serialization, _ = _crypto()
    stem = Path(stem)
    private_path, public_path = stem.with_name(stem.name + ".key"), stem.with_name(stem.name + ".pub")
    for path in (private_path, public_path):
        if path.exists():
            raise InputError(f"{path}: already exists; expected a new name for the key pair (a key is never overwritten)")
    if not private_path.parent.is_dir():
        raise InputError(f"{private_path.parent}: the folder for the key pair does not exist")
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private)
    public_path.write_bytes(public)
    return private_path, public_path


def _load_key(path: str | os.PathLike, private: bool):
    ed25519, serialization, _ = _crypto()
    what = "private key (.key, from edgeward keys)" if private else "public key (.pub, from edgeward keys)"
    data = read_regular(path, what, MAX_KEY_BYTES)
    try:
        key = (serialization.load_pem_private_key(data, password=None) if private
               else serialization.load_pem_public_key(data))
    except (ValueError, TypeError) as exc:
        other = b"PRIVATE KEY" if not private else b"PUBLIC KEY"
        hint = " (this is the other half of the pair)" if other in data else ""
        raise InputError(f"{path}: expected a PEM {what}{hint}, got something else ({str(exc).splitlines()[0]})") from None
    wanted = ed25519.Ed25519PrivateKey if private else ed25519.Ed25519PublicKey
    if not isinstance(key, wanted):
        raise InputError(f"{path}: expected an Ed25519 {what}, got {type(key).__name__}")
    return key


def check_private_key(path: str | os.PathLike) -> None:
    """A one-line error now when ``path`` is not an Ed25519 private key (before work that would be signed)."""
    _load_key(path, private=True)


def _public_raw(public) -> bytes:
    _, serialization, _ = _crypto()
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _message(data: bytes) -> tuple[str, bytes]:
    digest = hashlib.sha256(data).hexdigest()
    return digest, DOMAIN + digest.encode()


def sign_file(path: str | os.PathLike, private_key: str | os.PathLike) -> Path:
    """Write ``PATH.sig``, the signature of every byte of ``path`` by ``private_key``."""
    key = _load_key(private_key, private=True)
    path = Path(path)
    digest, message = _message(read_regular(path, "model file", 2 << 30, ModelFileError))
    record = {"algorithm": ALGORITHM, "key_id": key_id(_public_raw(key.public_key())), "sha256": digest,
              "signature": base64.b64encode(key.sign(message)).decode()}
    out = path.with_name(path.name + SUFFIX)
    out.write_text(json.dumps(record, sort_keys=True) + "\n")
    return out


@dataclass(frozen=True)
class Signature:
    source: str
    key_id: str  # the public key it was checked against


def check_signature(data: bytes, source: str, public_key: str | os.PathLike, signature: str | os.PathLike | None = None
                    ) -> Signature:
    """That ``data`` (the bytes of ``source``) is signed by ``public_key``: ``signature`` (default
    ``SOURCE.sig``). A one-line ``ModelFileError`` when it is unsigned, signed by another key, or changed since."""
    key = _load_key(public_key, private=False)
    wanted = key_id(_public_raw(key))
    sig_path = Path(signature) if signature else Path(str(source) + SUFFIX)
    if not sig_path.exists():
        raise ModelFileError(f"{source}: not signed: expected its signature in {sig_path} (edgeward export --sign KEY, "
                             "or edgeward sign --key KEY FILE)")
    raw = read_regular(sig_path, "signature file", MAX_SIG_BYTES, ModelFileError)
    try:
        record = json.loads(raw)
        algorithm, signer, blob = record["algorithm"], record["key_id"], base64.b64decode(record["signature"], validate=True)
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{sig_path}: expected an edgeward signature (one line of JSON with algorithm, key_id and "
                             f"signature), got something else ({type(exc).__name__}: {exc})") from None
    if algorithm != ALGORITHM:
        raise ModelFileError(f"{sig_path}: field 'algorithm': expected {ALGORITHM!r}, got {algorithm!r}")
    if signer != wanted:
        raise ModelFileError(f"{source}: signed by key {signer!s:.16}, not by {public_key} (key {wanted}): "
                             "not from the holder of that key")
    _, _, invalid = _crypto()
    digest, message = _message(data)
    try:
        key.verify(blob, message)
    except invalid:
        raise ModelFileError(f"{source}: the signature in {sig_path} does not match the file (sha256 {digest[:16]}...): "
                             "changed since it was signed, or the signature was forged") from None
    return Signature(str(source), wanted)
