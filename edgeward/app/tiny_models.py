"""Tiny fraud, commands and detection models trained on generated data, for checks that are about the runtime and
the process rather than accuracy (``make soak``, ``make arm64-check``). Each edgeward command runs in a process of
its own, so TensorFlow never enters the caller's."""

from __future__ import annotations

import sys
from pathlib import Path


def _cli(*argv: str) -> None:
    """An edgeward command in its own process: TensorFlow never enters the caller."""
    import subprocess

    if subprocess.run([sys.executable, "-m", "edgeward", *argv]).returncode != 0:
        raise SystemExit(f"setup failed: edgeward {' '.join(argv)}")


FP32_ONNX = (("--format", "onnx", "--precision", "fp32"),)


def build_models(folder: Path, log, exports: dict[str, tuple[tuple[str, ...], ...]] | None = None) -> dict[str, Path]:
    """Tiny fraud, commands and detection models on generated data; kept: built once per folder. ``exports``: per
    task, the flags of each ``edgeward export`` to run (default: fp32 ONNX). Returns each run's fp32 ONNX path
    (``NAME``), its run folder (``NAME_run``) and its data (``NAME_data``)."""
    exports = exports or {}
    made = {"fraud": folder / "fraud", "commands": folder / "commands", "detect": folder / "detect"}
    data = {name: folder / f"{name}-data" for name in made} | {"fraud": folder / "fraud-data.csv"}
    if not (made["fraud"] / "artifacts" / "model.onnx").exists():
        log("training a tiny fraud model")
        _cli("data", "fraud", str(data["fraud"]), "--rows", "20000", "--days", "30")
        _cli("train", "fraud", "--data", str(data["fraud"]), "--out", str(made["fraud"]), "--epochs", "2", "--hidden", "16")
        for flags in exports.get("fraud", FP32_ONNX):
            _cli("export", str(made["fraud"]), *flags)
    if not (made["commands"] / "artifacts" / "model.onnx").exists():
        log("training a tiny commands model")
        _cli("data", "commands", str(data["commands"]), "--per-class", "16", "--stream-minutes", "1",
             "--val-stream-minutes", "0.25", "--train-stream-minutes", "0.25")
        _cli("train", "commands", "--data", str(data["commands"]), "--out", str(made["commands"]), "--epochs", "2",
             "--filters", "16", "--blocks", "2")
        for flags in exports.get("commands", FP32_ONNX):
            _cli("export", str(made["commands"]), *flags)
    if not (made["detect"] / "artifacts" / "model.onnx").exists():
        log("training a tiny detector")
        _cli("data", "detect", str(data["detect"]), "--images", "48", "--holdout", "8", "--video-seconds", "20")
        _cli("train", "detect", "--data", str(data["detect"]), "--out", str(made["detect"]), "--epochs", "1", "--size", "160")
        for flags in exports.get("detect", FP32_ONNX):
            _cli("export", str(made["detect"]), *flags)
    return ({name: run / "artifacts" / "model.onnx" for name, run in made.items()}
            | {f"{k}_run": v for k, v in made.items()} | {f"{k}_data": v for k, v in data.items()})
