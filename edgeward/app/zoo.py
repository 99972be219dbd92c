"""``edgeward zoo``: the founding article's twelve models, each trained on generated data, exported to every
format and precision the engine makes, each artifact checked against its Keras model and timed, and the
conformance table written between markers in the README.

A cell is ``ok`` with the check's number (max abs diff for float artifacts; the metric's drop for int8 ones),
the file's size and its median single-row latency; or why it failed its check, or why the engine cannot make it
for this model.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from edgeward.core.errors import InputError
from edgeward.core.rundir import RunDir

START, END = "<!-- zoo:start -->", "<!-- zoo:end -->"
# the table's columns: (header, artifact file)
COLUMNS = (("ONNX fp32", "model.onnx"), ("ONNX fp16", "model-fp16.onnx"), ("ONNX int8", "model-int8.onnx"),
           ("TFLite fp32", "model.tflite"), ("TFLite fp16", "model-fp16.tflite"),
           ("TFLite int8 dyn.", "model-int8-dynamic.tflite"), ("TFLite int8", "model-int8.tflite"))
# the int8 files, as the per-CPU-class columns name them
INT8_FILES = (("ONNX", "model-int8.onnx"), ("dyn.", "model-int8-dynamic.tflite"), ("TFLite", "model-int8.tflite"))
CPU_HEADERS = {"avx2": "int8 on AVX2 (no VNNI)", "vnni": "int8 on VNNI", "arm64": "int8 on arm64"}
LATENCY_CALLS = 200
DECODING_SENTENCES = 40


@dataclass(frozen=True)
class ZooOptions:
    full: bool = False  # the article's sizes (make zoo), not the test suite's
    readme: str | None = None  # write the table between the markers of this file
    targets: tuple | None = None  # CPU classes the int8 files are checked on; None: every class this host can check


def zoo_targets(options: ZooOptions) -> tuple[tuple, dict]:
    """The CPU classes to check int8 files on, and the classes left out with why (``--targets`` names ones that
    must run: one this host cannot check is an error then)."""
    from edgeward.devices.cpu import CpuClass, running_class
    from edgeward.devices.emulators import unavailable
    from edgeward.export.cpu_checks import targets

    if options.targets is not None:
        return targets(options.targets, explicit=True).classes, {}
    host = running_class()
    skipped = {c.value: why for c in CpuClass if (why := unavailable(c, host))}
    return tuple(c for c in CpuClass if c.value not in skipped), skipped


def _latency_us(path: Path, feeds) -> float:
    from edgeward.export.timing import single_row
    from edgeward.runtime.engine.model import Model

    with Model(path, threads=1) as model:
        return single_row(lambda rows: model.run(rows, validate=False), feeds, LATENCY_CALLS)["p50_us"]


def _artifacts(run_path: Path, progress: bool, targets: tuple) -> dict:
    """Export every artifact the engine can make for the run, its int8 files checked on each of ``targets``; each
    cell ok with its check, size and latency, or why it failed its check, or why the engine cannot make it."""
    from edgeward.export.artifacts import Source, every_spec, excluded
    from edgeward.export.engine import ExportOptions, RunData, export_run
    from edgeward.export.validate import Budget, ValidationError

    data = RunData(run_path)
    traits = data.traits(Source.BASE)
    why = {s: excluded(s, traits) for s in every_spec([Source.BASE]) if not s.int8_io}
    try:
        export_run(run_path, ExportOptions(specs=tuple(s for s, w in why.items() if not w), budget=Budget(max_drop=1.0),
                                           recommend=False, targets=targets), progress=progress)
    except ValidationError:
        pass  # every artifact's check is in validation.json, failed ones with their numbers
    run = data.rundir
    feeds = data.feeds if len(data.feeds) > 1 else data.x
    cells = {s.name: {"passed": False, "cannot": True, "reason": w} for s, w in why.items() if w}
    for entry in run.validation().artifacts:
        cell = {"passed": entry.passed, "reason": entry.reason, "cpu": getattr(entry, "cpu", {}),
                "degenerate": getattr(entry, "degenerate", "")}
        if entry.passed:
            cell.update(size=run.artifact(entry.artifact).stat().st_size, check=entry.check, diff=entry.max_abs_diff,
                        drop=entry.drop_points, p50_us=_latency_us(run.artifact(entry.artifact), feeds))
        cells[entry.artifact] = cell
    return cells


def check_row(row, out: Path, options: ZooOptions, progress: bool = False) -> dict:
    """Make the row's run (and its parts' runs), export and check every artifact, time the ones that pass."""
    from edgeward.train.zoo import make

    for old in [out / row.name / "run", *(out / row.name).glob("*/run")]:  # a row checked again is trained afresh
        shutil.rmtree(old, ignore_errors=True)                               # (its data kept)
    made = getattr(make, row.make)(out / row.name, full=options.full, progress=progress)
    targets, _ = zoo_targets(options)
    result = {"number": row.number, "name": row.name, "metric": made.metric, "value": made.value, "chance": made.chance,
              "note": made.note, "run": str(made.run), "cells": _artifacts(made.run, progress, targets),
              "targets": [c.value for c in targets]}
    if made.parts:
        result["parts"] = {name: {"run": str(run), "cells": _artifacts(run, progress, targets)}
                           for name, run in made.parts.items()}
    if row.bench:
        result["bench"] = globals()[row.bench](made)
    return result


def decoding(made) -> dict:
    """The translator whole against its encoder and decoder files, sentence by sentence as a device translates: per
    format, the median time a sentence of each (interleaved over the same held-out sentences, one thread), the share
    of sentences each translates exactly and the share the two translate alike. The translations judge the int8
    halves better than the generic check can (an encoder's memory has no classes to agree on)."""
    import statistics
    import time

    from edgeward.runtime.tasks.translate import Translator
    from edgeward.train.zoo.translation import number_pairs

    english, german = number_pairs(DECODING_SENTENCES, seed=7, held_out=True)
    out = {}
    for _, name in COLUMNS:
        files = [RunDir(made.run).artifact(name), *(RunDir(made.parts[p]).artifact(name) for p in ("encoder", "decoder"))]
        if not all(f.exists() for f in files):
            continue  # a file the engine could not make
        with Translator.from_file(files[0], threads=1) as whole, \
                Translator.from_file(files[1], decoder=files[2], threads=1) as split:
            times: dict[str, list[float]] = {"whole": [], "split": []}
            got: dict[str, list[str]] = {"whole": [], "split": []}
            for i, text in enumerate(english):
                for key, tr in sorted((("whole", whole), ("split", split)), reverse=i % 2 == 1):
                    t0 = time.perf_counter()
                    got[key].append(tr.translate(text))
                    times[key].append(time.perf_counter() - t0)
        whole_ms, split_ms = (statistics.median(times[k]) * 1e3 for k in ("whole", "split"))
        out[name] = {"whole_ms": whole_ms, "split_ms": split_ms, "speedup": whole_ms / split_ms,
                     "whole_exact": _share(got["whole"], german), "split_exact": _share(got["split"], german),
                     "same": _share(got["whole"], got["split"]), "sentences": len(english)}
    return out


def _share(got: list[str], want: list[str]) -> float:
    return sum(g == w for g, w in zip(got, want)) / len(want)


def _size(n: int) -> str:
    return f"{n / 1024:.0f} KB" if n < 1024 ** 2 else f"{n / 1024 ** 2:.1f} MB"


def cell_text(cell: dict | None) -> str:
    from edgeward.export.timing import us_text

    if cell is None:
        return "not made"
    if cell.get("degenerate"):  # the reason, without the row count and numbers
        return "degenerate: " + cell["degenerate"].split(" over the")[0].split(" (")[0]
    if not cell["passed"]:
        if cell.get("cannot"):  # the engine's reason, to its first clause (the rest says what to use instead)
            return "cannot: " + cell["reason"].split("; ")[0]
        failed = [cpu for cpu, entry in cell.get("cpu", {}).items() if not entry["passed"]]
        if failed:  # the CPU classes it fails on; each one's numbers are in the class columns
            first = cell["cpu"][failed[0]]["reason"]
            return f"fails on {', '.join(failed)}: " + first.replace("|", "/").split("; ")[0][:100]
        return "fails: " + cell["reason"].replace("|", "/").splitlines()[0][:120]
    check = f"diff {cell['diff']:.0e}" if cell["check"].startswith("max abs diff") else f"drop {cell['drop']:+.1f}"
    return f"ok, {check}, {_size(cell['size'])}, {us_text(cell['p50_us'])}"


def cpu_text(cells: dict, cpu: str) -> str:
    """A row's int8 files on one CPU class: each file's metric drop there, or why it has none."""
    parts = []
    for short, name in INT8_FILES:
        cell = cells.get(name)
        if cell is None or cell.get("cannot"):
            continue
        got = cell.get("cpu", {}).get(cpu)
        if cell.get("degenerate"):
            parts.append(f"{short} degenerate")
        elif got is None:
            parts.append(f"{short} not checked")
        elif "drop_points" not in got:
            parts.append(f"{short} not run: {got['reason'][:80]}")
        else:
            parts.append(f"{short} {'' if got['passed'] else 'FAILS '}{got['drop_points']:+.1f}")
    return ", ".join(parts) or "no int8 file"


def _cells(cells: dict) -> str:
    return " | ".join([*(cell_text(cells.get(f)) for _, f in COLUMNS), *(cpu_text(cells, c) for c in CPU_HEADERS)])


def _part_texts(result: dict) -> dict[str, str]:
    """What each part's row says in the metric column: the encoder runs once a sentence; the decoder a step a word,
    with the sentence's time against the whole model's (TFLite fp32 where it passed, else ONNX fp32)."""
    texts = {part: "" for part in result.get("parts", {})}
    if "encoder" in texts:
        texts["encoder"] = "runs once a sentence (int8: judged by the translations, next row)"
    if "decoder" in texts:
        speed = result.get("bench", {})
        name = next((n for n in ("model.tflite", "model.onnx") if n in speed), None)
        texts["decoder"] = "a step a word"
        if name is not None:
            kind = "TFLite" if name.endswith(".tflite") else "ONNX"
            texts["decoder"] += (f": a sentence {speed[name]['split_ms']:.1f} ms, whole file {speed[name]['whole_ms']:.1f} ms "
                                 f"({kind} fp32)")
        int8 = [f"{header} {speed[f]['split_exact']:.2f}" for header, f in COLUMNS if "int8" in f and f in speed]
        if int8:
            texts["decoder"] += "; the halves' exact match: " + ", ".join(int8)
    return texts


def table(results: list[dict]) -> str:
    from edgeward.train.zoo.rows import ROWS

    done = {r["name"]: r for r in results}
    headers = [h for h, _ in COLUMNS] + list(CPU_HEADERS.values())
    lines = ["| # | model | metric (chance) | " + " | ".join(headers) + " |", "|---|---|---|" + "---|" * len(headers)]
    for row in ROWS:
        r = done.get(row.name)
        if r is None:
            why = f"not in the zoo yet: {row.waits}" if not row.checked else "not checked yet"
            lines.append(f"| {row.number} | {row.name} | {why} |" + " |" * len(headers))
            continue
        metric = f"{r['metric']} {r['value']:.3f} ({r['chance']:.3f})"
        lines.append(f"| {row.number} | {row.name} | {metric} | {_cells(r['cells'])} |")
        for part, about in _part_texts(r).items():
            lines.append(f"| {row.number} | {row.name}: {part} | {about} | {_cells(r['parts'][part]['cells'])} |")
    return "\n".join(lines)


def write_readme(path: Path, text: str, machine: str) -> None:
    """The table between the README's markers (nothing else touched), or a one-line error naming what is missing."""
    body = path.read_text()
    if START not in body or END not in body:
        raise InputError(f"{path}: expected the zoo's markers {START} and {END}, got none")
    block = f"{START}\n{machine}\n\n{text}\n{END}"
    path.write_text(re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: block, body, flags=re.S))


def check(names: list[str], out: Path, options: ZooOptions = ZooOptions(), progress: bool = False) -> list[dict]:
    from edgeward.train.zoo.rows import find_rows

    rows = find_rows(names)
    unready = [r for r in rows if not r.checked]
    if names and unready:
        raise InputError(f"zoo check: {unready[0].name} is not in the zoo yet ({unready[0].waits})")
    out.mkdir(parents=True, exist_ok=True)
    results = [check_row(r, out, options, progress) for r in rows if r.checked]
    # rows checked before at the same sizes, and not now, keep their results: `zoo check NAME` updates one row
    saved = json.loads((out / "zoo.json").read_text()) if (out / "zoo.json").exists() else {}
    if saved.get("options", {}).get("full") == options.full:
        now = {r["name"] for r in results}
        results += [r for r in saved["rows"] if r["name"] not in now]
    results.sort(key=lambda r: r["number"])
    (out / "zoo.json").write_text(json.dumps({"options": asdict(options), "rows": results}, indent=2) + "\n")
    if options.readme:
        write_table(Path(options.readme), results, options.full)
    return results


def write_table(readme: Path, results: list[dict], full: bool) -> None:
    """The conformance table of ``results`` between the README's markers, with the machine it was measured on."""
    from edgeward.export.bench import machine

    m = machine()
    size = "the article's sizes (`make zoo`)" if full else "the test suite's small sizes"
    where = (f"Measured by `edgeward zoo check{' --full' if full else ''}` at {size} on {m['cpu']} ({m['arch']}, "
             f"{m['cores']} cores), onnxruntime {m['onnxruntime']}: median of {LATENCY_CALLS} single-row calls on 1 thread.")
    hows = {cpu: entry["how"] for r in results for part in [r, *r.get("parts", {}).values()]
            for cell in part["cells"].values() for cpu, entry in cell.get("cpu", {}).items() if entry.get("how")}
    if hows:
        where += (" An int8 cell is ok when the file passes on every CPU class; the last columns give its metric drop "
                  "on each (ONNX int8, TFLite int8 dynamic-range, TFLite full-integer), run " +
                  ", ".join(f"on {cpu} by {how}" for cpu, how in sorted(hows.items())) + ".")
    write_readme(readme, table(results), where)
