"""The layers and who may import whom (docs/architecture.md), checked on every import in the sources, lazy
ones inside functions included; and the runtime and the CLI checked in real subprocesses."""

from __future__ import annotations

import ast
import fnmatch
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("tensorflow", "tf_keras", "keras", "tf2onnx", "tensorflow_model_optimization")
# folder -> the edgeward layers its modules may import (a layer may always import itself)
LAYERS = {
    "edgeward/core": (),
    "models": (),  # package data: the released models' files
    "devices": ("edgeward.core",),
    "runtime": ("edgeward.core", "edgeward.devices", "edgeward.models"),
    "train": ("edgeward.core", "edgeward.runtime"),
    "export": ("edgeward.core", "edgeward.devices", "edgeward.runtime"),
    "edgeward/tasks": ("edgeward.core", "edgeward.devices", "edgeward.runtime", "edgeward.train", "edgeward.export"),
    "edgeward/app": ("edgeward.core", "edgeward.devices", "edgeward.runtime", "edgeward.train", "edgeward.export",
                     "edgeward.tasks"),
    # the maintainers' tools (not in the wheel): above everything, and nothing of the package imports them
    "edgeward/tools": ("edgeward.core", "edgeward.devices", "edgeward.runtime", "edgeward.train", "edgeward.export",
                       "edgeward.tasks", "edgeward.app"),
}
PACKAGE = {"edgeward/core": "edgeward.core", "models": "edgeward.models", "devices": "edgeward.devices",
           "runtime": "edgeward.runtime",
           "train": "edgeward.train", "export": "edgeward.export", "edgeward/tasks": "edgeward.tasks",
           "edgeward/app": "edgeward.app", "edgeward/tools": "edgeward.tools"}


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def _ours(path: Path) -> bool:
    """A source file of the project: not in tests, a build, the runs, or a hidden folder (.venv, .arm64)."""
    parts = path.relative_to(ROOT).parts
    return not ({"tests", "build", "runs"} & set(parts) or any(p.startswith(".") for p in parts))


def _our_files(name: str) -> list[Path]:
    """The project's files called ``name`` (a glob), found without walking the folders ``_ours`` leaves out (the
    virtual environment alone holds tens of thousands of files)."""
    found = []
    for folder, dirs, files in os.walk(ROOT):
        here = Path(folder)
        dirs[:] = [d for d in dirs if _ours(here / d) and d != "__pycache__"]
        found += [here / f for f in fnmatch.filter(files, name)]
    return found


def _under(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("folder", list(LAYERS))
def test_each_layer_imports_only_the_layers_below_it(folder):
    allowed = (PACKAGE[folder], *LAYERS[folder])
    offenders = [f"{path.relative_to(ROOT)} imports {name}"
                 for path in sorted((ROOT / folder).rglob("*.py")) for name in _imports(path)
                 if name.startswith("edgeward.") and not _under(name, allowed)]
    assert offenders == []


def test_every_folder_is_a_known_layer():
    """A new folder of code gets its place in LAYERS (and in docs/architecture.md)."""
    folders = {str(p.parent.relative_to(ROOT)) for p in _our_files("*.py") if p.parent != ROOT}
    known = {f for f in folders if any(f == layer or f.startswith(layer + "/") for layer in LAYERS)}
    assert folders - known == {"edgeward"}  # the package root holds only its __init__ and __main__
    assert sorted(p.name for p in (ROOT / "edgeward").glob("*.py")) == ["__init__.py", "__main__.py"]


# the runtime's folders, lowest first: each imports only its own and those before it (``registry`` names the task
# runtimes by string and is open to all; ``runtime/__init__`` gathers the public classes)
RUNTIME_FOLDERS = ("engine", "io", "tasks", "services")


def _runtime_imports(path: Path) -> list[str]:
    """The edgeward.runtime modules ``path`` imports, lazy ones included, ``if TYPE_CHECKING`` ones not."""
    tree = ast.parse(path.read_text())
    hidden = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING"
              for n in ast.walk(node)}
    return [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and id(n) not in hidden and n.module
            and n.module.startswith("edgeward.runtime.")]


def test_the_runtime_folders_import_only_those_below_them_and_no_module_imports_itself_back():
    assert sorted(p.name for p in (ROOT / "runtime").iterdir() if p.is_dir() and p.name != "__pycache__") \
        == sorted(RUNTIME_FOLDERS)
    offenders, graph = [], {}
    for path in sorted((ROOT / "runtime").rglob("*.py")):
        rel = path.relative_to(ROOT / "runtime")
        name = "edgeward.runtime." + ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
        graph[name] = set(_runtime_imports(path))
        if len(rel.parts) == 1:
            continue  # registry.py, __init__.py
        allowed = RUNTIME_FOLDERS[:RUNTIME_FOLDERS.index(rel.parts[0]) + 1]
        offenders += [f"runtime/{rel} imports {m}" for m in graph[name]
                      if m != "edgeward.runtime.registry" and m.split(".")[2] not in allowed]
    assert offenders == []

    def reaches(start: str, goal: str, seen: set) -> bool:
        for m in graph.get(start, ()):
            if m == goal or (m not in seen and not seen.add(m) and reaches(m, goal, seen)):
                return True
        return False

    loops = [m for m in graph if m != "edgeward.runtime" and reaches(m, m, set())]
    assert loops == []  # before: model -> catalogue -> verify -> model


def test_runtime_devices_and_core_never_import_tensorflow():
    """Only core.keras_env (TensorFlow set-up), core.model_files (Keras model files) and core.keras_scan (their
    configs, read before loading) touch TensorFlow, inside their functions; the runtime never imports them."""
    tf_modules = ("keras_env.py", "model_files.py", "keras_scan.py")
    offenders = []
    for folder in ("runtime", "devices", "edgeward/core"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name in tf_modules and folder == "edgeward/core":
                continue
            for name in _imports(path):
                if _under(name, HEAVY) or name in ("edgeward.core.keras_env", "edgeward.core.model_files",
                                                                 "edgeward.core.keras_scan"):
                    offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []
    for module in tf_modules:
        top = [node for node in ast.parse((ROOT / "edgeward/core" / module).read_text()).body
               if isinstance(node, (ast.Import, ast.ImportFrom))]
        assert not [n for n in top for name in _imports_of(n) if _under(name, HEAVY)]  # not at import time


def _imports_of(node) -> list[str]:
    return [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]


def _task_name_uses(tree, names) -> list[int]:
    """Lines where a task's name is compared, a dict key or a subscript: branching on a task, or a table by task."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            found = [c for c in ast.walk(node) if isinstance(c, ast.Constant)]
        elif isinstance(node, ast.Dict):
            found = [k for k in node.keys if isinstance(k, ast.Constant)]
        elif isinstance(node, ast.Subscript):
            found = [node.slice] if isinstance(node.slice, ast.Constant) else []
        else:
            continue
        lines += [node.lineno for c in found if c.value in names]
    return sorted(set(lines))


REGISTRIES = ("edgeward/core/registry.py", "runtime/registry.py")  # where the names are meant to be
PACKAGES = ("edgeward", "train", "export", "runtime", "devices", "models")


def _task_owned(path: str, names) -> bool:
    """A task's own module: its spec package, its training package, its runtime module."""
    return (path.startswith("edgeward/tasks/") or any(path.startswith(f"train/{n}/") for n in names)
            or path in {f"runtime/tasks/{n}.py" for n in names})


def test_no_task_name_is_used_outside_the_tasks_own_modules():
    """Every module but the tasks' own and the registries looks a task up in a registry: none branches on a task's
    name nor keeps a table by task."""
    from edgeward.core.registry import task_names
    from edgeward.runtime.registry import RUNTIMES

    names = (*task_names(), *RUNTIMES)  # from the registries, not typed here
    paths = [p for top in PACKAGES for p in sorted((ROOT / top).glob("**/*.py"))]
    checked = [p for p in paths if (rel := p.relative_to(ROOT).as_posix()) not in REGISTRIES and not _task_owned(rel, names)]
    assert len(checked) > 50  # the walk found the code
    offenders = [f"{path.relative_to(ROOT)}:{line}" for path in checked
                 for line in _task_name_uses(ast.parse(path.read_text()), names)]
    assert offenders == []


def test_the_guard_sees_comparisons_dict_keys_and_subscripts():
    tree = ast.parse('if m.task == "fraud": pass\nEXPORTS = {"detect": 1}\nx = models["commands"]\ny = {"other": 2}["other"]')
    assert _task_name_uses(tree, ("fraud", "detect", "commands")) == [1, 2, 3]


def test_runtime_runs_a_model_without_importing_tensorflow(fraud_model):
    code = f"""
import json, sys
import numpy as np
import edgeward.runtime
from edgeward.runtime import FraudScorer
with FraudScorer.from_file({str(fraud_model)!r}) as s:
    s.score(np.zeros((2, len(s.features)), dtype=np.float32))
heavy = [m for m in {HEAVY + ("edgeward.train", "edgeward.export", "edgeward.tasks", "edgeward.app")!r} if m in sys.modules]
print(json.dumps(heavy))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_every_public_runtime_class_is_importable_from_the_runtime_and_audio_and_video_load_on_first_use():
    code = """
import json, sys
import edgeward.runtime as runtime
before = sorted(m for m in sys.modules if m.startswith(("edgeward.runtime.io", "cv2", "sounddevice"))
                or m in ("edgeward.runtime.tasks.detect", "edgeward.runtime.tasks.commands"))
from edgeward.runtime import *
print(json.dumps([before, [n for n in runtime.__all__ if getattr(runtime, n) is None]]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [[], []]
    import edgeward.runtime

    with pytest.raises(AttributeError, match="no attribute 'Detektor'"):
        edgeward.runtime.Detektor


def test_cli_imports_lazily():
    """Importing the CLI loads no task, training or export code; building its parser (every task's flags)
    loads no TensorFlow."""
    code = f"""
import json, sys
import edgeward.app.cli as cli
first = [m for m in ("tensorflow", "edgeward.train", "edgeward.export", "edgeward.tasks") if m in sys.modules]
cli.parser()
print(json.dumps([first, [m for m in {HEAVY!r} if m in sys.modules]]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [[], []]


def test_every_package_is_listed_for_the_wheel():
    """pyproject.toml lists the packages (the top folders map onto edgeward.*): a new task's sub-packages
    must be there too, or the wheel leaves them out while the editable install still finds them."""
    import tomllib

    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {str(p.parent.relative_to(ROOT)) for p in _our_files("__init__.py")}

    def package(folder: str) -> str:
        top, _, rest = folder.partition("/")
        base = next(name for name, path in setup["package-dir"].items() if path == top)
        return ".".join([base, *rest.split("/")]) if rest else base

    assert {package(f) for f in folders} - {"edgeward.tools"} == set(setup["packages"])  # the tools stay out
