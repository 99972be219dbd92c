"""The export engine: a training run's Keras models -> ONNX and TFLite artifacts, each carrying the
manifest and checked against the Keras reference on held-out rows; a recommendation of what to ship.

``export_run(run_dir, options)`` writes ``artifacts/<name>`` for each requested ``ArtifactSpec`` and
``validation.json`` (every check, the int8 candidates tried, the recommendation). An artifact outside
its budget fails the export with its numbers, after all artifacts were checked. What the model takes and
gives, and how it is judged, comes from the task's ``ModelContract``.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from edgeward.core.errors import ConfigError, DeviceError, ExportError, InputError
from edgeward.core.manifest import CpuCheck, Manifest, Metric
from edgeward.core.records import ArtifactCheck, ExportFailure, ValidationRecord
from edgeward.core.registry import get_task
from edgeward.core.rundir import RunDir, holdout_inputs
from edgeward.core.seal import UNSEALED, seal
from edgeward.core.signing import check_private_key, sign_file
from edgeward.export.artifacts import (
    Activations,
    ArtifactSpec,
    Calibration,
    Format,
    ModelTraits,
    Precision,
    Source,
    all_specs,
    excluded,
)
from edgeward.devices import Profile
from edgeward.devices.cpu import CpuClass
from edgeward.export.cpu_checks import Targets
from edgeward.export.provenance import provenance
from edgeward.export.validate import Budget, check_outputs, degenerate, raise_failures
from edgeward.runtime.engine.model import Model, UncheckedCpuWarning


@dataclass(frozen=True)
class ExportOptions:
    specs: tuple[ArtifactSpec, ...] = (ArtifactSpec(Format.ONNX, Precision.FP32),)
    budget: Budget = Budget()
    search: bool = False  # try int8 candidates until the metric drop is within budget.max_drop
    # the target: where artifacts are checked and timed for the recommendation (a host without the target's
    # providers checks them on its CPU, and the recommendation is the target's default: ``recommend``)
    device: str | Profile = "auto"
    # the CPU classes int8 files are made for and checked on; None: the device profile's, those this host can check
    targets: tuple[CpuClass, ...] | None = None
    calibration_rows: int = 5000  # training rows (docs/decisions.md: why 5,000)
    recommend: bool = True
    sign: str | None = None  # a private key (edgeward keys): each artifact written gets a FILE.sig (core/signing.py)

    def __post_init__(self):
        """The API refuses what the CLI refuses, in the same words."""
        if not isinstance(self.specs, tuple) or not self.specs or not all(isinstance(s, ArtifactSpec) for s in self.specs):
            raise ConfigError(f"specs: expected a non-empty tuple of ArtifactSpec (a format, precision and source "
                              f"each), got {self.specs!r}")
        for spec in self.specs:
            spec.check()
        if not isinstance(self.budget, Budget):
            raise ConfigError(f"budget: expected a Budget, got {self.budget!r}")
        if self.targets is not None and not all(isinstance(c, CpuClass) for c in self.targets):
            raise ConfigError(f"targets (--targets): expected CPU classes ({', '.join(c.value for c in CpuClass)}), "
                              f"got {self.targets!r}")
        if not isinstance(self.calibration_rows, int) or isinstance(self.calibration_rows, bool) or self.calibration_rows < 1:
            raise ConfigError(f"calibration_rows: expected a whole number >= 1, got {self.calibration_rows!r}")


@dataclass
class ExportResult:
    run: Path
    checks: list[ArtifactCheck]
    errors: dict[str, str] = field(default_factory=dict)
    search: list[dict] = field(default_factory=list)
    recommendation: dict | None = None
    targets: dict = field(default_factory=dict)  # the CPU classes made for, checked and skipped (with why)
    signed: list[Path] = field(default_factory=list)  # the signature files written (options.sign)


class RunData:
    """A run directory's models, held-out rows, training record and model contract, loaded on demand."""

    def __init__(self, run_dir: str | os.PathLike):
        self.rundir = RunDir(run_dir)
        self.dir = self.rundir.path
        self.record = self.rundir.record()
        self.spec = get_task(self.record.task)
        self.contract = self.spec.contract(self.rundir, self.record)
        if not self.rundir.model.exists():
            raise InputError(f"{self.dir}: expected a training run directory with {self.rundir.model.name}, got none")
        holdout = np.load(self.rundir.holdout)
        self.feeds = holdout_inputs(holdout, self.contract.input_names)  # input name -> held-out rows
        self.x, self.y = next(iter(self.feeds.values())), holdout["y_test"]
        self._models: dict[Source, tuple] = {}
        self._refs: dict[Source, list[np.ndarray]] = {}
        self._onnx_fp32: dict[Source, bytes] = {}
        self._train_x: dict[str, np.ndarray] | None = None
        self._degenerate: dict[bool, str] = {}

    def source_path(self, source: Source) -> Path:
        return self.rundir.source_model(source.value)

    def model(self, source: Source):
        """The Keras model and whether it converts through a traced function (Keras 3, SavedModel signatures)."""
        if source not in self._models:
            path = self.source_path(source)
            if not path.exists():
                raise InputError(f"{path}: not found; make it with `edgeward compress {self.dir}`")
            from edgeward.core.model_files import load_run_model

            model, flavor = load_run_model(self.rundir, source.value)
            self._models[source] = (model, flavor.traced)
        return self._models[source]

    def output_names(self, source: Source) -> list[str]:
        """The Keras model's output names, in its order."""
        from edgeward.core.model_files import output_names

        return output_names(self.model(source)[0])

    def reference(self, source: Source) -> list[np.ndarray]:
        """The Keras model's outputs on the held-out rows, in its output order."""
        if source not in self._refs:
            model, _ = self.model(source)
            row = sum(v[0].nbytes for v in self.feeds.values())
            batch = int(np.clip((64 << 20) // max(row, 1), 1, 4096))  # inputs of at most 64 MB a batch
            x = list(self.feeds.values()) if len(self.feeds) > 1 else self.x
            out = model.predict(x, batch_size=batch, verbose=0)
            self._refs[source] = [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]
        return self._refs[source]

    def degenerate(self, by_diff: bool) -> str:
        """Why no check against the fp32 Keras model can fail here ("" when one can): its outputs do not vary over
        the held-out rows; for checks by the metric and decisions (``by_diff`` False), also where every row gets one
        class (class probabilities)."""
        if by_diff not in self._degenerate:
            refs = self.reference(Source.BASE)
            classes = not by_diff and self.contract.output.normalisation == "class probabilities"
            self._degenerate[by_diff] = degenerate(joined(refs), self.contract.decide(refs[0]) if classes else None)
        return self._degenerate[by_diff]

    def onnx_fp32(self, source: Source) -> bytes:
        from edgeward.export.onnx_export import keras_to_onnx

        if source not in self._onnx_fp32:
            model, traced = self.model(source)
            proto = keras_to_onnx(model, self.contract.input_names, traced, self.output_names(source))
            self._onnx_fp32[source] = proto.SerializeToString()
        return self._onnx_fp32[source]

    def calibration(self, rows: int) -> dict[str, np.ndarray]:
        """``rows`` training rows (never held-out ones) by input name, an even sample across time. The
        training set is loaded once; each caller gets the sample size it asked for."""
        cap = self.contract.max_calibration
        if self._train_x is None:
            x = self.spec.splits(self.rundir, self.record, train_sample=cap).x_train
            self._train_x = dict(x) if isinstance(x, dict) else {self.contract.input_name: x}
        n = len(next(iter(self._train_x.values())))
        rows = min(rows, cap or rows)
        keep = np.linspace(0, n - 1, min(rows, n)).astype(int)
        return {k: v[keep] for k, v in self._train_x.items()}

    def traits(self, source: Source) -> ModelTraits:
        """What about this model rules artifacts out (``artifacts.excluded``)."""
        from edgeward.export.tflite_export import recurrent

        model, _ = self.model(source)
        return ModelTraits(float_prefix=self.float_prefix(source), calibrated=self.contract.max_calibration != 0,
                           recurrent=recurrent(model))

    def float_prefix(self, source: Source) -> bool:
        """Whether the model starts with preprocessing layers (Normalization, Rescaling) that take raw
        values: those stay in float in fp16 and int8 artifacts."""
        from edgeward.core.keras_env import tf_keras

        model, traced = self.model(source)
        if traced:
            import keras as k3

            types = (k3.layers.Normalization, k3.layers.Rescaling)
        else:
            types = (tf_keras().layers.Normalization, tf_keras().layers.Rescaling)
        for layer in model.layers:
            if isinstance(layer, types):
                return True
            if layer.weights:
                return False
        return False

    def manifest(self, spec: ArtifactSpec, outputs: list[str], metrics: tuple[Metric, ...]) -> Manifest:
        """The artifact's manifest, ``outputs`` named in the file's order; before it was measured (no ``metrics``),
        the Keras model's held-out metrics."""
        c, record = self.contract, self.record
        known = {t.name: t for t in c.outputs}
        if not metrics:
            on = f"keras, held-out split ({record.data.split['test']} rows)"
            metrics = tuple(Metric(k, round(v, 6), on) for k, v in record.metrics["model"].items())
        return Manifest(
            task=record.task, format=spec.format.value, precision=spec.precision.value, inputs=c.inputs,
            outputs=tuple(known.get(name, replace(c.output, name=name)) for name in outputs), labels=c.labels,
            features=c.features,
            thresholds=dict(c.thresholds), metrics=metrics,
            provenance=provenance(self.source_path(spec.source), record.data.sha256),
            params={**c.params, "source": spec.source.value, "method": spec.describe(),
                    **({"quantization": spec.quantization()} if spec.int8 else {})})


def build(run: RunData, spec: ArtifactSpec, calibration_rows: int) -> bytes:
    """The artifact's bytes, before the manifest."""
    from edgeward.export.onnx_export import keras_to_onnx, to_fp16
    from edgeward.export.onnx_quantize import quantize_static_int8
    from edgeward.export.tflite_export import keras_to_tflite

    spec.check()
    model, traced = run.model(spec.source)
    if spec.format is Format.ONNX:
        if spec.source.is_qat:
            from edgeward.export.onnx_qdq import quantize_weights

            proto = keras_to_onnx(model, run.contract.input_names, output_names=run.output_names(spec.source))
            quantize_weights(proto)
            return proto.SerializeToString()
        if spec.precision is Precision.FP32:
            return run.onnx_fp32(spec.source)
        if spec.precision is Precision.FP16:
            import onnx

            return to_fp16(onnx.load_from_string(run.onnx_fp32(spec.source)), run.float_prefix(spec.source)).SerializeToString()
        return quantize_static_int8(run.onnx_fp32(spec.source), run.calibration(calibration_rows), spec,
                                    run.float_prefix(spec.source))
    # full-integer TFLite: at most 1,000 representative rows (docs/decisions.md)
    full_integer = spec.precision is Precision.INT8 and not spec.source.is_qat
    representative = run.calibration(min(calibration_rows, 1000)) if full_integer else None
    return keras_to_tflite(model, spec, representative, traced, run.contract.input_names)


def embed(spec: ArtifactSpec, data: bytes, manifest: Manifest) -> bytes:
    """The artifact with its manifest, sealed: the manifest records the file's own hash (``core.seal``)."""
    from edgeward.export import onnx_export, tflite_export

    unsealed = replace(manifest, provenance=replace(manifest.provenance, artifact_sha256=UNSEALED))
    return seal((onnx_export if spec.format is Format.ONNX else tflite_export).with_manifest(data, unsealed))


def file_outputs(spec: ArtifactSpec, data: bytes, keras_names: list[str]) -> list[str]:
    """The artifact's output names in the file's order: the ONNX graph's (the Keras model's); for TFLite, the Keras
    model's one output's name, or placeholders until several outputs are matched to the Keras model's (the runtime
    reads TFLite outputs in order, and the converter orders them its own way)."""
    if spec.format is Format.ONNX:
        import onnx

        return [o.name for o in onnx.load_from_string(data).graph.output]
    return list(keras_names) if len(keras_names) == 1 else [f"output_{i}" for i in range(len(keras_names))]


@dataclass
class Pending:
    """An artifact built and checked on this host, before the checks on other CPU classes and its final manifest."""

    spec: ArtifactSpec
    raw: bytes  # before the manifest
    names: list[str]  # its outputs' names for the manifest (the Keras outputs' where there are several)
    file_outputs: tuple[str, ...]  # its outputs' names in the file
    order: list[int]  # for each of the file's outputs, the Keras output it reproduces
    data: bytes  # with a provisional manifest: what the other CPU classes run
    outs: list[np.ndarray]  # its outputs on this host, in the Keras model's order
    check: ArtifactCheck | None = None  # on this host

    def in_keras_order(self, got: dict[str, np.ndarray]) -> list[np.ndarray]:
        outs = [got[n] for n in self.file_outputs]
        return [outs[self.order.index(k)] for k in range(len(self.order))]


def prepare(run: RunData, spec: ArtifactSpec, options: ExportOptions) -> Pending:
    """Build, embed a provisional manifest, run it with the runtime on this host, check it."""
    raw = build(run, spec, options.calibration_rows)
    if spec.format is Format.ONNX:  # short names once the graph is final (int8 search matches nodes by name before)
        from edgeward.export.onnx_export import compact_names

        raw = compact_names(raw)
    refs, keras_names = run.reference(spec.source), run.output_names(spec.source)
    names = file_outputs(spec, raw, keras_names)
    data = embed(spec, raw, run.manifest(spec, names, ()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UncheckedCpuWarning)  # this is the check
        with Model(data, device=options.device) as artifact:
            got = artifact.run(run.feeds)
            file_names = artifact.output_names
    order = match_outputs([got[n] for n in file_names], refs, spec.name) if len(refs) > 1 else [0]
    if len(refs) > 1:  # several outputs: each named after the Keras output it reproduces
        names = [keras_names[k] for k in order]
    pending = Pending(spec, raw, names, file_names, order, data, [])
    pending.outs = pending.in_keras_order(got)
    pending.check = judge(run, spec, options, pending.outs, size_bytes=len(data))
    return pending


def judge(run: RunData, spec: ArtifactSpec, options: ExportOptions, outs: list[np.ndarray], size_bytes: int) -> ArtifactCheck:
    """An artifact's outputs (in the Keras model's order) on the held-out rows, against its budget."""
    refs = run.reference(spec.source)
    out = joined(outs)
    by_diff = spec.precision in (Precision.FP32, Precision.FP16) and spec.source is Source.BASE
    tolerance = options.budget.fp16_tolerance if spec.precision is Precision.FP16 else options.budget.fp32_tolerance
    check = check_outputs(
        out, joined(refs), joined(run.reference(Source.BASE)), run.y, run.contract.metric, run.contract.decide, by_diff,
        tolerance, options.budget.max_drop, run.contract.agreement, degenerate=run.degenerate(by_diff), artifact=spec.name,
        format=spec.format.value, precision=spec.precision.value, source=spec.source.value, method=spec.describe(),
        size_bytes=size_bytes,
    )
    if not by_diff and spec.precision in (Precision.FP32, Precision.FP16) and check.max_abs_diff > tolerance:
        # a pruned fp32/fp16 artifact must still match its own Keras model
        check = _fail(check, f"max abs diff {check.max_abs_diff:.2e} > {tolerance:g} vs its Keras model; " + check.reason)
    return check


def check_elsewhere(run: RunData, pendings: list[Pending], options: ExportOptions, classes: tuple[CpuClass, ...],
                    progress: bool = False) -> dict[str, dict[CpuClass, tuple[str, ArtifactCheck | str]]]:
    """The int8 artifacts' checks on each of ``classes`` (one worker process a class for all of them): by artifact,
    by class, how it ran and its check (or why it could not run)."""
    from tqdm import tqdm

    from edgeward.export.cpu_checks import run_on

    todo = [p for p in pendings if p.spec.int8]
    found: dict[str, dict] = {p.spec.name: {} for p in todo}
    for cpu in tqdm(classes if todo else (), desc="int8 on other CPU classes (emulated)", unit="class",
                    disable=not progress, leave=False):
        try:
            how, outputs = run_on(cpu, [p.data for p in todo], run.feeds)
        except DeviceError as exc:
            for p in todo:
                found[p.spec.name][cpu] = ("", str(exc))
            continue
        for p, got in zip(todo, outputs):
            found[p.spec.name][cpu] = (how, judge(run, p.spec, options, p.in_keras_order(got), len(p.data)))
    return found


def finish(run: RunData, pending: Pending, elsewhere: dict[CpuClass, tuple[str, ArtifactCheck | str]],
           host: CpuClass | None) -> ArtifactCheck:
    """The artifact's check on every class, its final manifest (measured metrics, the checks), written to the run."""
    spec, check = pending.spec, pending.check
    cpu: dict[str, dict] = {}
    if spec.int8:
        judged = ({host: ("this host", check)} if host else {}) | elsewhere
        cpu = {cls.value: cpu_entry(how, c) for cls, (how, c) in judged.items()}
    check = replace(check, cpu=cpu)
    failed = [f"on {k} ({v['how'] or 'not run'}): {v['reason']}" for k, v in cpu.items()
              if not v["passed"] and (host is None or k != host.value)]
    if failed and not check.degenerate:
        check = _fail(check, "; ".join(([] if not check.passed else [f"on {host.value if host else 'this host'}: ok"])
                                       + ([check.reason] if not check.passed else []) + failed))
    on = f"this artifact, held-out tail ({len(run.y)} rows)"
    metrics = (Metric(check.metric_name, round(check.metric, 6), on),
               *(Metric(name, round(value, 6), on) for name, value in run.contract.extra_metrics(run.y, joined(pending.outs))),
               Metric("decision_agreement", round(check.agreement, 6), on))
    cpu_checks = tuple(CpuCheck(k, v["passed"], round(v["metric"], 6), round(v["drop_points"], 3), round(v["agreement"], 6),
                                v["how"]) for k, v in cpu.items() if "metric" in v)
    manifest = replace(run.manifest(spec, pending.names, metrics), checks=check.status, cpu_checks=cpu_checks)
    final = embed(spec, pending.raw, manifest)
    path = run.rundir.artifact(spec.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(final)
    return replace(check, size_bytes=len(final))


def cpu_entry(how: str, check: ArtifactCheck | str) -> dict:
    """One CPU class's check of an int8 file, as ``ArtifactCheck.cpu`` keeps it (``check``: why it could not run)."""
    if isinstance(check, str):
        return {"passed": False, "how": how, "reason": check}
    return {"passed": check.passed, "metric": check.metric, "drop_points": check.drop_points, "agreement": check.agreement,
            "how": how, "reason": check.reason}


def recheck(run: RunData, entry: ArtifactCheck, classes: tuple[CpuClass, ...]) -> dict[str, dict]:
    """An exported int8 file (its validation record entry) measured again on this host and on ``classes``, each in a
    worker process: by class, its check (``cpu_entry``)."""
    from edgeward.devices.cpu import running_class
    from edgeward.export.cpu_checks import run_on

    spec = ArtifactSpec(Format(entry.format), Precision(entry.precision), Source(entry.source))
    data = run.rundir.artifact(entry.artifact).read_bytes()
    options = ExportOptions(budget=Budget(max_drop=entry.budget))
    refs, host = run.reference(spec.source), running_class()
    found = {}
    for cpu in dict.fromkeys([c for c in (host, *classes) if c is not None]):
        try:
            how, [got] = run_on(cpu, [data], run.feeds)
        except DeviceError as exc:
            found[cpu.value] = cpu_entry("", str(exc))
            continue
        outs = list(got.values())
        order = match_outputs(outs, refs, entry.artifact) if len(refs) > 1 else [0]
        check = judge(run, spec, options, [outs[order.index(k)] for k in range(len(refs))], len(data))
        found[cpu.value] = cpu_entry("this host" if cpu is host else how, check)
    return found


def make_artifact(run: RunData, spec: ArtifactSpec, options: ExportOptions, classes: tuple[CpuClass, ...] = (),
                  host: CpuClass | None = None) -> ArtifactCheck:
    """One artifact made, checked on this host and, where it passes here, on ``classes`` (int8 files), and written
    (the int8 search tries many candidates: one that fails here needs no emulated run to fail)."""
    pending = prepare(run, spec, options)
    elsewhere = check_elsewhere(run, [pending], options, classes)[spec.name] if spec.int8 and pending.check.passed else {}
    return finish(run, pending, elsewhere, host)


def joined(outputs: list[np.ndarray]) -> np.ndarray:
    """One output as it is; several as one (rows x values) array, in the Keras model's output order."""
    if len(outputs) == 1:
        return outputs[0]
    return np.concatenate([np.asarray(o, np.float64).reshape(len(o), -1) for o in outputs], axis=1)


def match_outputs(outs: list[np.ndarray], refs: list[np.ndarray], artifact: str) -> list[int]:
    """For each of an artifact's outputs (in its file order), the index of the Keras output it reproduces:
    the same shape, and the closest values (pairs taken closest first)."""
    pairs = sorted((float(np.abs(o.astype(np.float64) - r).mean()), i, k)
                   for i, o in enumerate(outs) for k, r in enumerate(refs) if o.shape == r.shape)
    order: dict[int, int] = {}
    for _, i, k in pairs:
        if i not in order and k not in order.values():
            order[i] = k
    if len(order) != len(outs):
        lost = [f"{tuple(o.shape)}" for i, o in enumerate(outs) if i not in order]
        raise ExportError(f"{artifact}: output(s) of shape {', '.join(lost)} match no Keras output "
                          f"({', '.join(str(tuple(r.shape)) for r in refs)})")
    return [order[i] for i in range(len(outs))]


def _fail(check: ArtifactCheck, reason: str) -> ArtifactCheck:
    return check.__class__(**{**check.as_dict(), "passed": False, "reason": reason})


def worst_drop(check: ArtifactCheck) -> float:
    """The metric's largest drop over the CPU classes the artifact was checked on (this host's where none)."""
    return max([check.drop_points, *(v["drop_points"] for v in check.cpu.values() if "drop_points" in v)])


def search_int8(run: RunData, spec: ArtifactSpec, options: ExportOptions, tried: list[dict], targets: Targets) -> ArtifactCheck:
    """ONNX post-training int8 candidates until the metric drop is within budget on every target class; the best
    one (the smallest worst drop over the classes) if none is.

    First per-channel on and off with each calibration method (with 7-bit weights, then 8-bit ones, where the targets
    include AVX2); then the best of those with the most sensitive compute nodes (largest fp32-vs-int8 activation
    error) kept in float, one more at a time.
    """
    from edgeward.export.onnx_quantize import sensitive_nodes

    best: tuple[ArtifactCheck, ArtifactSpec] | None = None

    def attempt(candidate: ArtifactSpec) -> ArtifactCheck:
        nonlocal best
        check = make_artifact(run, candidate, options, targets.elsewhere, targets.host)
        entry = {"method": candidate.describe(), "drop_points": round(worst_drop(check), 3), "passed": check.passed}
        if candidate.exclude_nodes:
            entry["excluded"] = list(candidate.exclude_nodes)
        tried.append(entry)
        if best is None or worst_drop(check) < worst_drop(best[0]):
            best = (check, candidate)
        return check

    # 7-bit weights first where the targets need them (devices.cpu); 8-bit ones as well, which can only win where they
    # hold on every target class
    for reduce_range in dict.fromkeys((spec.reduce_range, False)):
        for per_channel in (True, False):
            for method in Calibration:
                if attempt(spec.but(per_channel=per_channel, calibration=method, reduce_range=reduce_range)).passed:
                    return best[0]
    base = best[1]
    int8 = build(run, base, options.calibration_rows)
    ranked = sensitive_nodes(run.onnx_fp32(spec.source), int8, run.calibration(options.calibration_rows))
    for k in range(1, len(ranked)):
        if attempt(base.but(exclude_nodes=tuple(name for name, _ in ranked[:k]))).passed:
            return best[0]
    # none within budget: keep the best, which fails with its numbers
    return make_artifact(run, best[1], options, targets.elsewhere, targets.host)


def export_run(run_dir: str | os.PathLike, options: ExportOptions = ExportOptions(), progress: bool = False) -> ExportResult:
    """Every artifact of ``options.specs`` built, checked on this host and its int8 files on each target CPU class
    (``options.targets``, else the device profile's), and written with its manifest; ``validation.json``; the
    recommendation. A ``ValidationError`` at the end names every artifact outside its budget."""
    from tqdm import tqdm

    from edgeward.devices import resolve, runnable_here
    from edgeward.export.cpu_checks import targets as resolve_targets

    if options.sign:
        check_private_key(options.sign)  # a bad key is said before the minutes of export, not after
    run = RunData(run_dir)
    result = ExportResult(run.dir, [])
    profile = resolve(options.device)
    classes = options.targets if options.targets is not None else profile.cpu
    targets = resolve_targets(classes, explicit=options.targets is not None)
    here, lacking = runnable_here(profile)  # what runs the artifacts here: the target's providers, else the CPU's
    options = replace(options, specs=for_target(options.specs, profile, classes), device=here)
    for spec in options.specs:
        why = excluded(spec, run.traits(spec.source))
        if why:
            raise InputError(f"{spec.name}: not supported for this model: {why}")
    searched = [s for s in options.specs if options.search and s.format is Format.ONNX and s.precision is Precision.INT8
                and not s.source.is_qat]
    pendings = []
    for spec in tqdm(options.specs, desc="exporting", unit="artifact", disable=not progress, leave=False):
        try:
            if spec in searched:
                result.checks.append(search_int8(run, spec, options, result.search, targets))
            else:
                pendings.append(prepare(run, spec, options))
        except ExportError as exc:
            result.errors[spec.name] = str(exc)
    elsewhere = check_elsewhere(run, pendings, options, targets.elsewhere, progress)
    result.checks += [finish(run, p, elsewhere.get(p.spec.name, {}), targets.host) for p in pendings]
    result.checks.sort(key=lambda c: [s.name for s in options.specs].index(c.artifact))
    old = run.rundir.validation()
    entries = _merged_entries(old, result)
    if options.recommend and result.checks:
        from edgeward.export.recommend import recommend

        # over every artifact of the run within budget, exported now or before
        known = [e for e in entries if isinstance(e, ArtifactCheck) and run.rundir.artifact(e.artifact).exists()]
        result.recommendation = recommend(run.rundir.artifacts, known, run.feeds, profile)
    result.targets = {"cpu": [c.value for c in targets.classes], "host": targets.host.value if targets.host else None,
                      "checked": [c.value for c in targets.checkable],
                      "skipped": {c.value: why for c, why in targets.skipped.items()},
                      "device": profile.name, "run_with": here.name, **({"lacking": lacking} if lacking else {})}
    run.rundir.write_validation(ValidationRecord(
        artifacts=tuple(entries), search=tuple(result.search) or old.search,
        recommendation=result.recommendation or old.recommendation, targets=result.targets))
    if options.sign:
        written = [run.rundir.artifact(c.artifact) for c in result.checks]
        result.signed = [sign_file(path, options.sign) for path in written if path.exists()]
    raise_failures(result.checks, result.errors)
    return result


def for_target(specs: tuple[ArtifactSpec, ...], profile: Profile, classes: tuple[CpuClass, ...]) -> tuple[ArtifactSpec, ...]:
    """ONNX post-training int8 settings that hold on the target: symmetric int8 activations where it runs TensorRT
    (it accepts nothing else), uint8 activations (onnxruntime's fast CPU path) everywhere else; 7-bit weights where
    a target CPU adds u8 x s8 pairs in 16 bits (AVX2 without VNNI, ``devices.cpu``), so that they cannot saturate."""
    s8 = "TensorrtExecutionProvider" in profile.providers
    reduce_range = any(c.saturates_u8s8 for c in classes)
    return tuple(s.but(activations=Activations.S8 if s8 else s.activations, reduce_range=reduce_range or s.reduce_range)
                 if s.format is Format.ONNX and s.precision is Precision.INT8 and not s.source.is_qat else s for s in specs)


def available_specs(run_dir: str | os.PathLike) -> tuple[ArtifactSpec, ...]:
    """Every artifact this run supports, from the models it has (base, and compressed ones if made)."""
    run = RunData(run_dir)
    sources = [s for s in Source if run.source_path(s).exists()]
    return tuple(all_specs(sources, run.traits(Source.BASE)))


def _merged_entries(old: ValidationRecord, result: ExportResult) -> list[ArtifactCheck | ExportFailure]:
    """The validation record's entries: earlier exports', replaced by this export's for the same artifacts."""
    names = {c.artifact for c in result.checks} | set(result.errors)
    return [e for e in old.artifacts if e.artifact not in names] + list(result.checks) \
        + [ExportFailure(n, m) for n, m in result.errors.items()]
