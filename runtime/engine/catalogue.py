"""The ready-to-run models that ship with edgeward: ``models/`` in the source, ``edgeward.models`` once installed.

Each model is a folder of exported files (``models/digits/model.onnx``, ...). Everything about a model is in
its files' manifests: the task, the labels, and under ``release`` its name, the metrics measured when it was
released (on data its training generator never drew) and the commands and seeds that made it. A catalogue
name works wherever a model file is taken: ``Model("digits")``, ``edgeward run detect --model digits``.
A file of that name in the working directory wins over the catalogue; a folder of that name that holds no model
(the data folder ``edgeward data detect digits`` makes) does not: the released model is used, and a warning says so.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from edgeward.core.errors import EdgewardError, InputError, ModelFileError
from edgeward.core.files import read_regular
from edgeward.core.manifest import Manifest
from edgeward.core.rundir import RunDir
from edgeward.devices.profiles import Backend, Profile
from edgeward.runtime.engine.embedded import manifest_of

ModelSource = str | os.PathLike | bytes
MAX_MODEL_BYTES = 2 << 30  # protobuf and flatbuffer files stop at 2 GiB (larger ONNX models keep weights outside)

SUFFIXES = (".onnx", ".tflite")


@dataclass(frozen=True)
class ReleasedFile:
    path: Path
    manifest: Manifest

    @property
    def backend(self) -> Backend:
        return Backend.TFLITE if self.path.suffix == ".tflite" else Backend.ONNXRUNTIME


@dataclass(frozen=True)
class CatalogueModel:
    """One released model: its files, the default first (released as such), then ONNX (the base install runs it)."""

    name: str
    task: str
    files: tuple[ReleasedFile, ...]

    @property
    def release(self) -> dict:
        return self.files[0].manifest.release

    def file(self, profile: Profile | None = None) -> Path:
        """The file for a device: among those whose backend the profile runs and this install has, the one in
        the profile's format and precision, else its format, else the first (ONNX)."""
        if profile is None:
            return self.files[0].path
        usable = [f for f in self.files if f.backend in profile.backends and _installed(f.backend)] or list(self.files)
        for wanted in ((profile.format, profile.precision), (profile.format, None)):
            for f in usable:
                if f.manifest.format == wanted[0] and wanted[1] in (None, f.manifest.precision):
                    return f.path
        return usable[0].path


def _installed(backend: Backend) -> bool:
    return backend is Backend.ONNXRUNTIME or importlib.util.find_spec("ai_edge_litert") is not None


def catalogue_dir() -> Path:
    import edgeward.models

    return Path(edgeward.models.__file__).parent


@lru_cache(maxsize=1)
def catalogue() -> dict[str, CatalogueModel]:
    """Name -> released model, read from the files' manifests (no inference session is opened)."""
    found = {}
    root = catalogue_dir()
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))) if root.is_dir() else []:
        files = sorted((ReleasedFile(p, manifest_of(p.read_bytes(), str(p))) for p in folder.iterdir() if p.suffix in SUFFIXES),
                       key=lambda f: (not f.manifest.release.get("default"), f.path.suffix != ".onnx", f.path.name))
        if files:
            found[folder.name] = CatalogueModel(folder.name, files[0].manifest.task, tuple(files))
    return found


def names() -> tuple[str, ...]:
    return tuple(catalogue())


def get(name: str) -> CatalogueModel:
    models = catalogue()
    if name not in models:
        raise InputError(f"unknown catalogue model {name!r}: expected one of {', '.join(models) or '(none installed)'}")
    return models[name]


class NameResolvedWarning(UserWarning):
    """A name that is both a local folder without a model and a released model was taken as the released model."""


def _holds_a_model(folder: Path) -> bool:
    """A folder a user would mean as a model: model files, a run's artifacts or a Triton repository (or one that
    cannot be read: the user's, to be named in the error)."""
    try:
        return RunDir(folder).artifacts.is_dir() or any(p.suffix in SUFFIXES for p in folder.iterdir()) \
            or any(folder.glob("*/config.pbtxt"))
    except OSError:
        return True


def released_name(source) -> str | None:
    """``source`` when it names a released model and no local file or model folder of that name is in the way
    (a folder that holds no model is, with a warning); None otherwise."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return None
    name = os.fspath(source)
    if name not in catalogue():
        return None
    path = Path(name)
    if not path.exists():
        return name
    if path.is_dir() and not _holds_a_model(path):
        warnings.warn(f"{name}: the folder here of that name holds no model; using the released model {name!r} "
                      f"(for a file in the folder, give its path: {name}/FILE)", NameResolvedWarning, stacklevel=3)
        return name
    return None


def locate(source, profile: Profile | None = None):
    """The model file ``source`` stands for: a catalogue name's (for the device ``profile``, ``released_name``), a
    folder's (``in_folder``); ``source`` itself otherwise (bytes, a file, or an unknown name for the caller's
    file-not-found error)."""
    name = released_name(source)
    if name:
        return catalogue()[name].file(profile)
    if not isinstance(source, (bytes, bytearray, memoryview)) and Path(source).is_dir():
        return in_folder(Path(source), profile)
    return source


def in_folder(folder: Path, profile: Profile | None = None) -> Path:
    """The one model a folder stands for: a run's (``run_artifact``), the only model file in it, or the newest
    version of the only model of a Triton repository. More than one, or none, is an ``InputError`` naming them."""
    if RunDir(folder).artifacts.is_dir():
        return run_artifact(folder, profile)
    found = sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES and p.is_file())
    repo = sorted(folder.glob("*/config.pbtxt"))
    if not found and len(repo) == 1:
        versions = sorted((int(v.name), v) for v in repo[0].parent.iterdir() if v.name.isdigit() and v.is_dir())
        found = [versions[-1][1] / "model.onnx"] if versions else []
    if len(found) == 1:
        return found[0]
    if len(repo) > 1:
        raise InputError(f"{folder}: a Triton repository of {len(repo)} models; serve it whole (edgeward serve {folder}) "
                         f"or give one model's file ({repo[0].parent}/1/model.onnx)")
    if found:
        raise InputError(f"{folder}: {len(found)} model files ({', '.join(p.name for p in found)}); give one: {found[0]}")
    raise InputError(f"{folder}: expected a model file (.onnx or .tflite), a run folder with artifacts/ or a Triton "
                     "repository, got a folder without one")


def run_artifact(run: Path, profile: Profile | None = None) -> Path:
    """A run folder's model: what its export recommended for ``profile``'s device, else (another device, or no
    recommendation) its fp32 file in the profile's format, else in any format the profile runs."""
    artifacts = RunDir(run).artifacts
    try:
        rec = RunDir(run).validation().recommendation or {}
        chosen = str(rec.get("artifact") or "")
    except (EdgewardError, AttributeError):  # none, or not the export's: the run's plain files
        rec, chosen = {}, ""
    if chosen and Path(chosen).name == chosen and (profile is None or rec.get("device") == profile.name) \
            and (artifacts / chosen).is_file():  # a file name in artifacts/, never a path out of it
        return artifacts / chosen
    formats = ["onnx", "tflite"]
    if profile is not None:
        runs = {Backend.ONNXRUNTIME: "onnx", Backend.TFLITE: "tflite"}
        formats = sorted({runs[b] for b in profile.backends if b in runs}, key=lambda f: f != profile.format)
    for fmt in formats:
        if (artifacts / f"model.{fmt}").is_file():
            return artifacts / f"model.{fmt}"
    raise InputError(f"{run}: a run folder without an exported model{' for ' + profile.name if profile else ''} in "
                     f"{artifacts}; export it first (edgeward export {run})")


def default_for(task: str) -> str | None:
    """The task's default catalogue model: the one released as its default, if any."""
    return next((m.name for m in catalogue().values() if m.task == task and m.release.get("default")), None)


def read_model_bytes(source: ModelSource, profile: Profile | None = None) -> tuple[bytes, str]:
    """The file's bytes and a name for messages. A catalogue model's name reads its file (for ``profile``)."""
    source = locate(source, profile)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), "<bytes>"
    path = Path(source)
    if not path.exists():
        if path.suffix or len(path.parts) > 1:
            raise ModelFileError(f"{path}: model file not found")
        raise ModelFileError(f"{path}: neither a model file nor a catalogue model ({', '.join(names()) or 'none installed'})")
    return read_regular(path, "model file (.onnx or .tflite)", MAX_MODEL_BYTES, ModelFileError), str(path)
