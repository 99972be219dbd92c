"""The catalogue's releases (``make models``): each model's recipe, run from scratch; its shipped files measured
by the runtime on data drawn afresh; the release notes written into their manifests; then the rebuilt
metrics compared with the shipped ones, within each recipe's stated tolerance.

    python -m edgeward.tools release                 # rebuild all, compare with models/ (make models)
    python -m edgeward.tools release --skip-build    # measure and compare the runs already in runs/models
    python -m edgeward.tools release --publish       # ... and copy the rebuilt files into models/
"""

from __future__ import annotations

import datetime
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, replace
from pathlib import Path

from edgeward import __version__
from edgeward.core.manifest import Manifest, Metric
from edgeward.core.rundir import RunDir
from edgeward.core.registry import get_task, task_names
from edgeward.core.task import RELEASE_RUNS as RUNS
from edgeward.core.task import Recipe
from edgeward.runtime.engine.catalogue import catalogue_dir

RECIPES = {r.name: r for task in task_names() for r in get_task(task).recipes()}  # each task's released models


def command_line(step: tuple[str, ...]) -> str:
    return "edgeward " + " ".join(step)


def build(recipe: Recipe, log=print) -> None:
    """Run the recipe from scratch: its run is removed first, its data step writes the data again. An export step may
    fail an artifact that does not ship (outside its budget); any other failure stops the build."""
    shutil.rmtree(recipe.run, ignore_errors=True)
    for step in recipe.steps:
        log(f"$ {command_line(step)}")
        if subprocess.run([sys.executable, "-m", "edgeward", *step]).returncode == 0:
            continue
        if not (step[0] == "export" and all(RunDir(recipe.run).artifact(f).exists() for f in recipe.ship)):
            raise SystemExit(f"{recipe.name}: `{command_line(step)}` failed")


def release_notes(recipe: Recipe, metrics: list[Metric], file: str) -> dict:
    return {"name": recipe.name, "title": recipe.title, "file": file, "default": recipe.default and file == recipe.ship[0],
            "metrics": [asdict(m) for m in metrics], "recipe": [command_line(s) for s in recipe.steps],
            "seeds": {"data_and_training": recipe.seed, "measurement": recipe.measure_seed},
            "tolerance": {"rebuild": recipe.tolerance, "check": recipe.check_tolerance},
            "rebuild": "make models", "released": datetime.date.today().isoformat(), "edgeward": __version__}


def stamped(data: bytes, manifest: Manifest, notes: dict) -> bytes:
    """The file with the release notes in its manifest, sealed again (``edgeward verify`` holds)."""
    from edgeward.core.seal import UNSEALED, seal
    from edgeward.export import onnx_export, tflite_export
    from edgeward.runtime.engine.sessions import is_tflite

    unsealed = replace(manifest, release=notes, provenance=replace(manifest.provenance, artifact_sha256=UNSEALED))
    return seal((tflite_export if is_tflite(data) else onnx_export).with_manifest(data, unsealed))


def release(recipe: Recipe, out: Path, log=print) -> dict[str, list[Metric]]:
    """Measure each shipped file of the recipe's run and write it, with its release notes, to ``out/NAME``."""
    from edgeward.runtime.engine.embedded import manifest_of

    spec, measured = get_task(recipe.task), {}
    (out / recipe.name).mkdir(parents=True, exist_ok=True)
    for file in recipe.ship:
        path = RunDir(recipe.run).artifact(file)
        with tempfile.TemporaryDirectory() as work:
            metrics = spec.measure_release(path, Path(work), recipe.measure_seed)
        data = path.read_bytes()
        (out / recipe.name / file).write_bytes(stamped(data, manifest_of(data, str(path)), release_notes(recipe, metrics, file)))
        log(f"{recipe.name}/{file}: " + ", ".join(f"{m.name} {m.value:.4f}" for m in metrics))
        measured[file] = metrics
    return measured


def compare(recipe: Recipe, rebuilt: dict[str, list[Metric]], shipped: Path) -> list[list[str]]:
    """Rows: file, metric, shipped, rebuilt, difference, within the recipe's tolerance."""
    from edgeward.runtime.engine.embedded import manifest_of

    rows = []
    for file, metrics in rebuilt.items():
        path = shipped / recipe.name / file
        before = ({m["name"]: m["value"] for m in manifest_of(path.read_bytes(), str(path)).release.get("metrics", [])}
                  if path.exists() else {})
        for m in metrics:
            old = before.get(m.name)
            ok = old is not None and abs(m.value - old) <= recipe.tolerance
            rows.append([f"{recipe.name}/{file}", m.name, "-" if old is None else f"{old:.4f}", f"{m.value:.4f}",
                         "-" if old is None else f"{m.value - old:+.4f}", "yes" if ok else "NO"])
    return rows


def add_arguments(p) -> None:
    p.add_argument("names", nargs="*", metavar="NAME", help=f"which models (default: all of {', '.join(RECIPES)})")
    p.add_argument("--skip-build", action="store_true", help="measure the runs already in runs/models")
    p.add_argument("--publish", action="store_true", help="copy the rebuilt files into the catalogue (models/)")
    p.add_argument("--out", type=Path, default=RUNS / "released", help="where the measured files go")


def run(args) -> int:
    unknown = [n for n in args.names if n not in RECIPES]
    if unknown:
        print(f"release: unknown model(s) {', '.join(unknown)}: expected some of {', '.join(RECIPES)}", file=sys.stderr)
        return 2
    rows = []
    for recipe in (RECIPES[n] for n in args.names or RECIPES):
        if not args.skip_build:
            build(recipe)
        rows += compare(recipe, release(recipe, args.out), catalogue_dir())
    print("| file | metric | shipped | rebuilt | difference | within tolerance |\n|---|---|---|---|---|---|")
    print("\n".join("| " + " | ".join(r) + " |" for r in rows))
    if args.publish:
        for folder in (args.out / n for n in args.names or RECIPES):
            shutil.copytree(folder, catalogue_dir() / folder.name, dirs_exist_ok=True)
            print(f"published {folder} -> {catalogue_dir() / folder.name}")
        return 0
    return 0 if all(r[-1] == "yes" for r in rows) else 1
