"""The served models: each with its name in URLs and its batcher, loaded from ``NAME=PATH`` or ``PATH``."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from edgeward.core.errors import InputError, ManifestError
from edgeward.core.files import read_regular
from edgeward.core.manifest import Manifest
from edgeward.runtime.engine.catalogue import released_name
from edgeward.runtime.engine.model import Model
from edgeward.runtime.services.serve.batcher import DynamicBatcher


@dataclass
class Statistics:
    """A served model's requests, as Triton's statistics extension counts them."""

    ok: int = 0  # requests answered
    ok_ns: int = 0
    failed: int = 0  # requests refused or failed
    failed_ns: int = 0
    rows: int = 0  # inferences: the rows of the requests answered
    last_ms: int = 0  # when the last one was answered, ms since the epoch

    def add(self, passed: bool, ns: int, rows: int) -> None:
        if passed:
            self.ok, self.ok_ns, self.rows = self.ok + 1, self.ok_ns + ns, self.rows + rows
            self.last_ms = int(time.time() * 1000)
        else:
            self.failed, self.failed_ns = self.failed + 1, self.failed_ns + ns


@dataclass
class Served:
    """One served model: its name in URLs, the model, its batcher, Triton's ``max_batch_size`` (from the
    repository's ``config.pbtxt``; 0: no limit, the batch dimension is a free one) and its statistics."""

    name: str
    model: Model
    batcher: DynamicBatcher | None = field(default=None, repr=False)  # made by build_app
    max_batch_size: int = 0
    stats: Statistics = field(default_factory=Statistics)
    source: str = ""  # what it was loaded from: a model file, a released name, or REPO/NAME (a repository's model)
    ready: bool = True  # False once unloaded (Triton's repository extension), until loaded again


def split_spec(spec: str) -> tuple[str, str]:
    """``NAME=PATH`` or ``PATH``: (the name, or "" for none, and the path)."""
    name, _, path = spec.rpartition("=") if "=" in spec else ("", "", spec)
    return name, path


def unique_name(name: str, task: str, path: str, taken: list[str], command: str) -> str:
    """The name given, else the model's task, else (the task's name taken) its file's stem; two alike are an error."""
    name = name or (task if task not in taken else Path(path).stem)
    if name in taken:
        raise InputError(f"{command}: two models named {name!r}; name them: NAME=PATH")
    return name


def load_models(specs: list[str], options) -> list[Served]:
    """``NAME=PATH`` or ``PATH`` (named after its task, or its file when the task's name is taken; a path may be a run
    folder), a released model's name (kept), or a Triton model repository folder (each model named after its folder,
    its newest version served)."""
    served: list[Served] = []
    entries = []
    for spec in specs:
        if released_name(spec):  # a released model keeps its catalogue name
            entries.append((spec, spec, None, 0, ""))
        elif Path(spec).is_dir() and any(Path(spec).glob("*/config.pbtxt")):
            entries += repository(Path(spec))
        else:
            entries.append((*split_spec(spec), None, 0, ""))
    for name, path, manifest, max_batch_size, source in entries:
        model = Model(path, device=options.device, threads=options.threads, manifest=manifest)
        name = unique_name(name, model.manifest.task, path, [s.name for s in served], "serve")
        served.append(Served(name, model, max_batch_size=max_batch_size, source=source or path))
    return served


def reload(s: Served, options) -> tuple[Model, int]:
    """The served model read again from where it came from (a repository's model: its newest version and its
    configuration now), for Triton's ``load``: the new model and its max_batch_size. The caller swaps them in."""
    repo, _, name = s.source.rpartition("/") if s.source.startswith("repository:") else ("", "", "")
    if repo:
        found = [e for e in repository(Path(repo.removeprefix("repository:"))) if e[0] == name]
        if not found:
            raise InputError(f"failed to load {s.name!r}: {repo.removeprefix('repository:')}/{name} is gone")
        _, path, manifest, max_batch_size, _ = found[0]
        return Model(path, device=options.device, threads=options.threads, manifest=manifest), max_batch_size
    return Model(s.source, device=options.device, threads=options.threads), s.max_batch_size


CONFIG_LIMIT = 1 << 20  # a config.pbtxt of edgeward's is a few KB
_MAX_BATCH = re.compile(r"^\s*max_batch_size\s*:\s*(\d{1,9})\s*$", re.M)
_MANIFEST = re.compile(r'key:\s*"edgeward\.manifest"\s*value:\s*\{\s*string_value:\s*("(?:[^"\\]|\\.)*")')


def repository(repo: Path) -> list[tuple[str, str, Manifest | None, int, str]]:
    """The models of a Triton repository: (folder name, the newest version's model.onnx, the manifest from
    ``config.pbtxt`` where the model file has none, its ``max_batch_size``, ``repository:REPO/NAME``)."""
    found = []
    for config in sorted(repo.glob("*/config.pbtxt")):
        versions = sorted((int(v.name), v) for v in config.parent.iterdir() if v.is_dir() and v.name.isdigit()
                          and (v / "model.onnx").exists())
        if not versions:
            raise InputError(f"{config.parent}: expected a version folder with model.onnx (as {config.parent}/1/model.onnx)")
        path = versions[-1][1] / "model.onnx"
        text = read_regular(config, "model configuration", CONFIG_LIMIT).decode("utf-8", "replace")
        match = _MANIFEST.search(text)
        manifest = None
        if match and not _embedded(path):
            manifest = Manifest.from_json(json.loads(match.group(1)), str(config))
        batch = _MAX_BATCH.search(text)
        found.append((config.parent.name, str(path), manifest, int(batch.group(1)) if batch else 0,
                      f"repository:{repo}/{config.parent.name}"))
    if not found:
        raise InputError(f"{repo}: expected a model file or a Triton repository (NAME/config.pbtxt), got a folder without one")
    return found


def _embedded(path: Path) -> bool:
    try:
        Model(path, device="x86-64-cpu").close()
        return True
    except ManifestError:
        return False


def find(by_name: dict[str, Served], name: str, ready: bool = True) -> Served:
    """The served model ``name``; with ``ready``, refused while it is unloaded (as Triton refuses it)."""
    if name not in by_name:
        raise InputError(f"unknown model {name!r}: expected one of {', '.join(by_name)}")
    if ready and not by_name[name].ready:
        raise InputError(f"model {name!r} is unloaded; load it again (POST /v2/repository/models/{name}/load)")
    return by_name[name]


def index(served: list[Served]) -> list[dict]:
    """Triton's repository index: every model this server was started with, READY or UNAVAILABLE (unloaded)."""
    return [{"name": s.name, "version": "1", "state": "READY" if s.ready else "UNAVAILABLE",
             **({} if s.ready else {"reason": "unloaded"})} for s in served]


def reload_into(s: Served, options) -> None:
    """Triton's ``load`` of a served model: read again from where it came from (``reload``), swapped in for the
    requests that follow, the old one closed once the call in progress has ended; the model is READY."""
    model, max_batch_size = reload(s, options)
    old, s.model, s.max_batch_size = s.model, model, max_batch_size
    if s.batcher is not None:
        s.batcher.after_calls(old.close)
    else:
        old.close()
    s.ready = True


def one_of(served: list[Served], task: str, name: str | None, who: str = "this server") -> Served:
    """The served model of ``task`` that a task endpoint (or a source) uses: the one named, or the only one."""
    found = [s for s in served if s.model.manifest.task == task and (name is None or s.name == name)]
    if len(found) != 1:
        what = f"{task} model named {name!r}" if name else f"{task} model"
        hint = "; say which with ?model=NAME" if len(found) > 1 else ""
        raise InputError(f"{who}: {'no' if not found else 'more than one'} {what} among the served models "
                         f"({', '.join(s.name for s in served)}){hint}")
    return found[0]


def fed_by(served: list[Served], feed, who: str) -> Served:
    """The one served model whose task's runtime takes ``feed`` (a ``registry.Feed``): a live source's model."""
    from edgeward.runtime.registry import feeds

    found = [s for s in served if feed in feeds(s.model.manifest.task)]
    if len(found) != 1:
        raise InputError(f"{who}: {'no' if not found else 'more than one'} served model takes {feed.value} "
                         f"(served: {', '.join(f'{s.name} ({s.model.manifest.task})' for s in served)})")
    return found[0]
