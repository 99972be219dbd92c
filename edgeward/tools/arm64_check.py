"""``make arm64-check``: edgeward's TensorFlow-free runtime on aarch64, under user-mode QEMU on this x86 machine.

1. An aarch64 Python 3.11 with the runtime's wheels (``devices/emulation/arm64-env.sh``, built once in ROOT), and
   edgeward itself installed into it from this checkout.
2. The runtime's own tests that need neither TensorFlow nor training, run by the emulated Python.
3. The device profiles: the one ``auto`` picks under emulation (arm64-cpu; raspberry-pi-4 and -5 with a board
   model in the sysroot's device tree), and a session run with each arm64 profile.
4. Parity: tiny fraud, commands and detection models (fp32 and int8, ONNX and TFLite), and every released model of
   the catalogue, with the same inputs through each task's runtime on x86 and on aarch64 (``runtime/services/parity.py``).
   fp32 outputs must agree within 1e-5; fp16 and int8 decisions are compared and every difference is listed.
5. Which runtime dependencies have aarch64 wheels (the ones it installed).

Emulated timings say nothing about a real board's speed; none are reported as such.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from edgeward.core.rundir import RunDir
from edgeward.export.cost import ANCHORS
from edgeward.runtime.engine.catalogue import catalogue

REPO = Path(__file__).resolve().parents[2]
TESTS = ("tests/runtime/test_audio.py", "tests/runtime/test_detect_post.py", "tests/devices/test_devices.py")
BOARDS = {"": "arm64-cpu", "Raspberry Pi 4 Model B Rev 1.5": "raspberry-pi-4", "Raspberry Pi 5 Model B Rev 1.0": "raspberry-pi-5"}


def environment(root: Path, log) -> dict[str, str]:
    """The emulated Python's environment (built when missing), with this checkout's edgeward installed in it."""
    if not (root / "site" / "onnxruntime").exists():
        log(f"building the aarch64 environment in {root} (Debian arm64 packages, aarch64 wheels, QEMU)")
        subprocess.run(["sh", str(REPO / "devices/emulation/arm64-env.sh")], check=True,
                       env={**os.environ, "ROOT": str(root), "HOST_PY": sys.executable})
    with tempfile.TemporaryDirectory() as tmp:  # built from a copy: setuptools would leave build/ in the checkout
        for name in ("pyproject.toml", "README.md", "edgeward", "train", "export", "runtime", "devices", "models"):
            if (REPO / name).is_dir():
                shutil.copytree(REPO / name, Path(tmp) / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(REPO / name, Path(tmp) / name)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--upgrade", "--target",
                        str(root / "edgeward"), tmp], check=True, capture_output=True)
    return {**os.environ, "PYTHONPATH": f"{root / 'edgeward'}:{root / 'site'}", "PYTHONDONTWRITEBYTECODE": "1"}


def emulated(root: Path, env: dict, *args: str, **kw) -> subprocess.CompletedProcess:
    """The emulated Python (``-P``: the working directory, this checkout, must not shadow the installed edgeward)."""
    return subprocess.run([str(root / "bin" / "python3"), "-P", *args], env=env, text=True, capture_output=True, **kw)


def boards(root: Path, env: dict) -> list[dict]:
    """The profile ``auto`` picks under emulation for each board model (qemu's -L reads /proc/device-tree from the
    sysroot when the file is there)."""
    tree = root / "sysroot" / "proc" / "device-tree"
    rows = []
    try:
        for model, expected in BOARDS.items():
            if model:
                tree.mkdir(parents=True, exist_ok=True)
                (tree / "model").write_bytes(model.encode() + b"\0")
            done = emulated(root, env, "-c", "from edgeward.devices import closest_profile, this_host; "
                                             "h = this_host(); print(h.arch, '|', h.board, '|', closest_profile(h).name)")
            arch, board, picked = (done.stdout.strip().split(" | ") + ["", "", ""])[:3]
            rows.append({"board": model or "(none: a generic arm64 machine)", "arch": arch, "seen": board,
                         "picked": picked or done.stderr.strip()[-200:], "expected": expected, "ok": picked == expected})
    finally:
        (tree / "model").unlink(missing_ok=True)
    return rows


def check_inputs(toys: dict, out: Path) -> tuple[dict, Path | None]:
    """The input of each feed that the parity run gives a task whose runtime class takes it (``parity_feed``), from
    the toy runs' own check inputs: 2,000 rows of a CSV file, a WAV file, video frames decoded here, on x86 (the
    same pixels go to both machines); and that video file (each machine's decoding of it is compared too)."""
    from edgeward.runtime.services.parity import decoded
    from edgeward.runtime.registry import Feed, runtime_class

    inputs, video = {}, None
    for toy in toys.values():
        feed = runtime_class(toy.task).parity_feed
        if feed is Feed.ROWS:
            inputs[feed] = out / "rows.csv"
            inputs[feed].write_bytes(b"".join(toy.check_input.read_bytes().splitlines(keepends=True)[:2001]))
        elif feed is Feed.VIDEO:
            inputs[feed] = out / "frames.npy"
            np.save(inputs[feed], decoded(str(toy.check_input)))
            video = toy.check_input
        elif feed is not None:
            inputs[feed] = toy.check_input
    return inputs, video


def artifacts(toys: dict, inputs: dict) -> list[dict]:
    """Every toy run's artifacts and every released model's files, each with the check input of the kind its task's
    runtime class takes (``parity_feed``); a task whose class names none is not in the parity run."""
    from edgeward.runtime.registry import runtime_class

    def check_input(task: str) -> str | None:
        cls = runtime_class(task)
        found = inputs.get(cls.parity_feed) if cls is not None else None
        return str(found) if found else None

    found = []
    for toy in toys.values():
        run = RunDir(toy.run)
        for name in ("model.onnx", "model-fp16.onnx", "model-int8.onnx", "model.tflite", "model-fp16.tflite",
                     "model-int8-dynamic.tflite", "model-int8.tflite"):
            if run.artifact(name).exists() and check_input(toy.task):  # fp16, int8: decisions compared, not values
                found.append({"task": toy.task, "artifact": str(run.artifact(name)), "name": name,
                              "input": check_input(toy.task), "int8": name not in ("model.onnx", "model.tflite")})
    for model in catalogue().values():  # the released models, trained: their decisions mean something
        for f in model.files:
            if check_input(model.task):
                found.append({"task": model.task, "artifact": str(f.path), "name": f"{model.name}/{f.path.name}",
                              "input": check_input(model.task), "int8": f.manifest.precision != "fp32"})
    return found


def costs(items: list[dict]) -> list[dict]:
    """Each artifact's arithmetic and bytes per inference (``export/cost.py``); a TFLite file is counted by an ONNX
    graph of the same model beside it (the same layers: MACs do not depend on the precision), its own size kept."""
    from edgeward.export.cost import onnx_cost

    rows = []
    for item in items:
        path = Path(item["artifact"])
        twin = path if path.suffix == ".onnx" else next(iter(sorted(path.parent.glob("*.onnx"))), None)
        if twin is not None:
            c = onnx_cost(twin)
            rows.append({"task": item["task"], "artifact": item["name"], "macs": c.macs, "weights": c.weights,
                         "file_bytes": path.stat().st_size})
    return rows


def wheels(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "wheels").glob("*.whl"))


def markdown(result: dict) -> str:
    lines = ["| task | artifact | raw outputs: max abs diff | scores, scores of events or boxes: max abs diff | decisions | ok |",
             "|---|---|---:|---:|---|---|"]
    for r in result["parity"]:
        lines.append(f"| {r['task']} | {r['artifact']} | {r['raw_max_abs_diff']:.2g} | {r['values']:.2g} | {r['decisions']} | "
                     f"{'yes' if r['ok'] else 'NO'}{' (fp16/int8: decisions compared)' if r['int8'] else ''} |")
    d = result["decoding"]
    lines += ["", f"The same video decoded by OpenCV on each machine: {d['values_that_differ']:.0%} of the pixel values of "
                  f"its first {d['frames']} frames differ, by up to {d['max_level_diff']} levels (the detections above "
                  "are on frames decoded once, on x86)."]
    avx2 = result.get("avx2") or {}
    if avx2.get("parity"):
        lines += ["", f"The same files on an x86-64 CPU with AVX2 and no VNNI ({avx2['how']}), against this host "
                      f"({avx2['host']}):", "",
                  "| task | artifact | raw outputs: max abs diff | scores: max abs diff | decisions | same decisions |",
                  "|---|---|---:|---:|---|---|"]
        lines += [f"| {r['task']} | {r['artifact']} | {r['raw_max_abs_diff']:.2g} | {r['values']:.2g} | {r['decisions']} | "
                  f"{'yes' if not r['differences'] else 'NO'} |" for r in avx2["parity"]]
    elif avx2.get("skipped"):
        lines += ["", f"Not run on AVX2 without VNNI: {avx2['skipped']}."]
    lines += ["", "| board model in the device tree | arch | profile picked | expected |", "|---|---|---|---|"]
    lines += [f"| {b['board']} | {b['arch']} | {b['picked']} | {b['expected']} |" for b in result["boards"]]
    lines += ["", "| profile | a session under emulation |", "|---|---|"]
    lines += [f"| {name} | {text} |" for name, text in result["profiles"].items()]
    lines += ["", "| task | artifact | MACs per inference | weights | file bytes | MACs / MobileNet v1's |",
              "|---|---|---:|---:|---:|---:|"]
    anchor = ANCHORS[0]
    lines += [f"| {c['task']} | {c['artifact']} | {c['macs']:,} | {c['weights']:,} | {c['file_bytes']:,} | "
              f"{c['macs'] / anchor.macs:.2g} |" for c in result["cost"]]
    lines += [f"| anchor | {a.model}: {a.ms:g} ms on a {a.board}, {a.how} ({a.source}) | {a.macs:,} | {a.weights:,} | | 1 |"
              for a in ANCHORS]
    return "\n".join(lines)


def avx2_parity(out: Path, host: dict, host_raw, log) -> dict:
    """The same parity run on an x86-64 CPU with AVX2 and no VNNI (``qemu-x86_64 -cpu Haswell`` where this host has
    VNNI), compared with this host's: onnxruntime's integer kernels differ there (``devices/cpu.py``)."""
    from edgeward.devices.cpu import CpuClass, running_class
    from edgeward.devices.emulators import runner, unavailable
    from edgeward.runtime.services.parity import compare

    here = running_class()
    why = unavailable(CpuClass.AVX2, here)
    if why:
        return {"how": "", "skipped": why, "parity": []}
    log(f"parity: the same artifacts on avx2, beside this host ({here.value})")
    with runner(CpuClass.AVX2, here) as r:
        done = r.run(["-m", "edgeward.runtime.services.parity", str(out / "spec.json"), str(out / "avx2.json")], timeout=3600)
    if done.returncode:
        raise SystemExit(f"the avx2 parity run failed:\n{done.stderr[-3000:]}")
    other = json.loads((out / "avx2.json").read_text())
    return {"how": r.how, "host": here.value,
            "parity": compare(host, other, host_raw, np.load(out / "avx2.npz"), names=(here.value, "avx2"))}


def check(root: Path, out: Path, log=print) -> dict:
    from edgeward.tools.tiny_models import build_toys
    from edgeward.runtime.services.parity import compare

    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    env = environment(root, log)
    log("the runtime's own tests under emulation: " + " ".join(TESTS))
    tests = emulated(root, env, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS, cwd=REPO)
    summary = (tests.stdout.strip().splitlines() or ["(no output)"])[-1]
    log(f"  {summary}")
    toys = build_toys(out / "models", log)  # each exported as its toy says: fp32 and int8, ONNX and TFLite
    inputs, video = check_inputs(toys, out)
    spec = {"artifacts": artifacts(toys, inputs), "profile_model": str(next(iter(toys.values())).model),
            "video": str(video or "")}
    (out / "spec.json").write_text(json.dumps(spec, indent=1))
    log(f"parity: {len(spec['artifacts'])} artifacts on x86, then on aarch64")
    subprocess.run([sys.executable, "-m", "edgeward.runtime.services.parity", str(out / "spec.json"), str(out / "x86.json")],
                   check=True)
    arm = emulated(root, env, "-m", "edgeward.runtime.services.parity", str(out / "spec.json"), str(out / "arm64.json"))
    if arm.returncode:
        raise SystemExit(f"the emulated parity run failed:\n{arm.stderr[-3000:]}")
    x86, arm64 = (json.loads((out / f"{n}.json").read_text()) for n in ("x86", "arm64"))
    x86_raw, arm_raw = np.load(out / "x86.npz"), np.load(out / "arm64.npz")
    avx2 = avx2_parity(out, x86, x86_raw, log)
    pixels = np.abs(x86_raw["decoded"].astype(np.int16) - arm_raw["decoded"].astype(np.int16))
    result = {
        "tests": {"files": TESTS, "summary": summary, "ok": tests.returncode == 0, "output": tests.stdout[-3000:]},
        "host": arm64["host"], "profiles": arm64["host"]["profiles"], "boards": boards(root, env),
        "parity": compare(x86, arm64, x86_raw, arm_raw),
        "decoding": {"frames": int(len(pixels)), "max_level_diff": int(pixels.max()),
                     "values_that_differ": round(float((pixels > 0).mean()), 4)},
        "cost": costs(spec["artifacts"]), "wheels": wheels(root), "avx2": avx2,
        "seconds": round(time.perf_counter() - started, 1),
    }
    result["ok"] = (result["tests"]["ok"] and all(r["ok"] or r["int8"] for r in result["parity"])
                    and all(b["ok"] for b in result["boards"]) and all(v.startswith("ok") for v in result["profiles"].values()))
    (out / "arm64-check.json").write_text(json.dumps(result, indent=1))
    (out / "arm64-check.md").write_text(markdown(result) + "\n")
    return result


def add_arguments(parser) -> None:
    parser.add_argument("--root", default=".arm64", help="the aarch64 environment (built once)")
    parser.add_argument("--out", default="runs/arm64", help="models, parity results and the report")


def run(args) -> int:
    result = check(Path(args.root).resolve(), Path(args.out).resolve())
    print(markdown(result))
    print(f"\nemulated: {result['host']['machine']}, Python {result['host']['python']}, profile auto = "
          f"{result['host']['auto']}, providers {', '.join(result['host']['providers'])}")
    print("aarch64 wheels installed: " + ", ".join(result["wheels"]))
    print(f"runtime tests under emulation: {result['tests']['summary']}")
    print(f"{'passed' if result['ok'] else 'FAILED'} in {result['seconds']:.0f} s; {args.out}/arm64-check.json")
    return 0 if result["ok"] else 1
