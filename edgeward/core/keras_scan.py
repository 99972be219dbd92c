"""What a Keras model file would make Keras do, read before Keras reads it: the Python code it holds and the
memory its weights declare.

The config is decoded exactly as Keras decodes it (``json.loads``: key order, JSON escapes and a repeated key
mean what they mean to Keras), then walked whole: a Lambda layer anywhere (a model inside a wrapper inside a
model), a class named by a module path (``keras.layers.Lambda``), a registered name, a Keras 3 ``__lambda__``
object, or a config that carries marshalled code (``function_type: "lambda"``) is code. A config that is not
JSON, or nests deeper than Python can decode, is refused, since a scanner that gives up is no scanner.

Sizes: a ``.keras`` file is a zip whose members' declared sizes are summed before one is inflated (a zip bomb
declares gigabytes in kilobytes); an ``.h5`` file's weight datasets are summed from their declared shapes. Both
must fit in this machine's memory.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

from edgeward.core.errors import ModelFileError, require
from edgeward.core.files import physical_memory, read_regular

CODE_CLASSES = frozenset({"lambda", "__lambda__"})
CODE_MARKERS = ("function_type", "output_shape_type")  # tf_keras' Lambda config: "lambda" means marshalled bytecode
MAX_CONFIG_BYTES = 64 << 20  # the config of a model with ten thousand layers is a few megabytes
MAX_ZIP_MEMBERS = 100_000


def decode_config(text: bytes | str, source: str) -> object:
    """A Keras config as Keras reads it; a one-line ModelFileError when it is not JSON."""
    if len(text) > MAX_CONFIG_BYTES:
        raise ModelFileError(f"{source}: a model config of {len(text):,} bytes; expected at most {MAX_CONFIG_BYTES:,}")
    try:
        return json.loads(text)
    except RecursionError:
        raise ModelFileError(f"{source}: the model config nests deeper than it can be read") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{source}: the model config is not valid JSON ({exc})") from None


def _holds_code(node: dict) -> bool:
    for key in ("class_name", "registered_name"):
        value = node.get(key)
        if isinstance(value, str) and re.split(r"[>.]", value)[-1].strip().lower() in CODE_CLASSES:
            return True
    return any(node.get(key) == "lambda" for key in CODE_MARKERS)


def _name(node: dict) -> str:
    config = node.get("config")
    name = config.get("name") if isinstance(config, dict) else node.get("name")
    return name if isinstance(name, str) else "(unnamed)"


def code_layers(config: object) -> list[str]:
    """The names of the objects in a decoded Keras config that hold Python code, in document order."""
    found, stack = [], [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if _holds_code(node):
                found.append(_name(node))  # one layer: its own config (function_type "lambda") is not a second
                continue
            stack.extend(reversed(list(node.values())))
        elif isinstance(node, list):
            stack.extend(reversed(node))
    return found


def zip_member(z: zipfile.ZipFile, name: str, source: str, limit: int = MAX_CONFIG_BYTES) -> bytes:
    """One member of a zip, bounded by its declared size (zipfile reads no more than it declares)."""
    try:
        info = z.getinfo(name)
    except KeyError:
        raise ModelFileError(f"{source}: not a readable .keras file (no {name} in it)") from None
    if info.file_size > limit:
        raise ModelFileError(f"{source}: {name} declares {info.file_size:,} bytes; expected at most {limit:,}")
    try:
        return z.read(info)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise ModelFileError(f"{source}: not a readable .keras file ({name}: {exc})") from None


def check_keras_zip(z: zipfile.ZipFile, source: str, memory: int | None = None) -> None:
    """Refuse a ``.keras`` zip whose members would not fit in memory once inflated."""
    members = z.infolist()
    if len(members) > MAX_ZIP_MEMBERS:
        raise ModelFileError(f"{source}: a .keras file of {len(members):,} members; expected at most {MAX_ZIP_MEMBERS:,}")
    total, memory = sum(m.file_size for m in members), memory or physical_memory()
    if total > memory // 2:
        raise ModelFileError(f"{source}: its members declare {total:,} bytes once inflated; expected at most "
                             f"{memory // 2:,} (half this machine's memory): refused before inflating")


def check_h5_weights(f, source: str, memory: int | None = None) -> None:
    """Refuse an open ``h5py.File`` whose datasets declare more bytes than half this machine's memory."""
    import h5py

    sizes = []
    f.visititems(lambda _, obj: sizes.append((_, obj.shape, obj.dtype.itemsize))
                 if isinstance(obj, h5py.Dataset) else None)
    total, memory = 0, memory or physical_memory()
    for name, shape, itemsize in sizes:
        count = 1
        for d in shape or ():
            count *= int(d)
        total += count * itemsize
        if total > memory // 2:
            raise ModelFileError(f"{source}: weight '{name}' of shape {tuple(int(d) for d in shape)} brings the declared "
                                 f"weights to {total:,} bytes; expected at most {memory // 2:,} (half this machine's "
                                 "memory): refused before loading")


def saved_model_metadata(path: Path) -> list[object]:
    """The decoded Keras configs in a tf_keras SavedModel's ``keras_metadata.pb`` (one per saved object)."""
    meta = path / "keras_metadata.pb"
    if not meta.is_file():
        return []
    data = read_regular(meta, "Keras metadata file", 4 * MAX_CONFIG_BYTES, ModelFileError)
    from tf_keras.protobuf import saved_metadata_pb2

    proto = saved_metadata_pb2.SavedMetadata()
    try:
        proto.ParseFromString(data)
    except Exception as exc:  # protobuf's DecodeError and its relatives
        raise ModelFileError(f"{meta}: not a readable Keras metadata file ({exc})") from None
    return [decode_config(node.metadata, str(meta)) for node in proto.nodes if node.metadata]


def file_configs(path: Path) -> list[object]:
    """Every Keras config a model file holds, decoded, after its sizes are checked."""
    if path.is_dir():
        return saved_model_metadata(path)
    if path.suffix == ".h5":
        h5py = require("h5py", "train")
        try:
            with h5py.File(path, "r") as f:
                check_h5_weights(f, str(path))
                config = f.attrs.get("model_config")
        except OSError as exc:
            raise ModelFileError(f"{path}: not a readable .h5 file ({exc})") from None
        if config is None:
            return []
        return [decode_config(config if isinstance(config, (str, bytes)) else bytes(config), str(path))]
    try:
        with zipfile.ZipFile(path) as z:
            check_keras_zip(z, str(path))
            return [decode_config(zip_member(z, "config.json", str(path)), str(path))]
    except zipfile.BadZipFile as exc:
        raise ModelFileError(f"{path}: not a readable .keras file ({exc})") from None
