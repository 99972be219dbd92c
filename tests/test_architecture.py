"""The dependency rule: runtime and devices import nothing from train/export and never TensorFlow."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("tensorflow", "tf_keras", "keras", "tf2onnx", "tensorflow_model_optimization",
             "edgeward.train", "edgeward.export")


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_runtime_and_devices_sources_do_not_import_train_export_or_tensorflow():
    offenders = []
    for folder in ("runtime", "devices"):
        for path in (ROOT / folder).rglob("*.py"):
            for name in _imports(path):
                if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
                    offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_devices_does_not_import_runtime_or_export():
    for path in (ROOT / "devices").rglob("*.py"):
        assert not [n for n in _imports(path) if n.startswith(("edgeward.runtime", "edgeward.export"))], path


def test_runtime_runs_a_model_without_importing_tensorflow(fraud_model):
    code = f"""
import json, sys
import numpy as np
import edgeward.runtime
from edgeward.runtime import FraudScorer
with FraudScorer.from_file({str(fraud_model)!r}) as s:
    s.score(np.zeros((2, len(s.features)), dtype=np.float32))
heavy = [m for m in ("tensorflow", "tf_keras", "keras", "tf2onnx", "edgeward.train", "edgeward.export") if m in sys.modules]
print(json.dumps(heavy))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_cli_module_imports_lazily():
    code = "import sys, edgeward.cli; print([m for m in ('tensorflow', 'edgeward.train', 'edgeward.export') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
