"""A model with any inputs and outputs, adopted for export: its calibration inputs, its held-out rows and the
Keras outputs on them, and how an artifact's outputs are judged against those.

Each output is judged by its kind: a class-probability output (non-negative values that sum to one over the last
axis: a row's classes, or each node's of a graph) by the share of its positions whose top class is the Keras
model's; any other output agrees when every value is within ``value_tolerance`` of the Keras output's standard
deviation. A row's agreement is its least agreeing output's; the metric is the mean over rows (the Keras model
itself scores 1).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edgeward.core.errors import DataError, InputError
from edgeward.core.files import check_npz
from edgeward.core.hashing import data_sha256
from edgeward.core.rundir import DataInfo, RunDir, TrainingRecord, holdout_key

MIN_ROWS = 8  # calibration rows, at the least: some to calibrate on, some to check on
RANDOM_ROWS = 64  # inputs drawn at random when the user gives none (float artifacts only)


@dataclass(frozen=True)
class GenericPayload:
    """The generic task's part of the training record."""

    model: str  # the adopted model, as the user named it
    flavor: str  # model_files.KerasFlavor
    inputs: list[dict]  # name, shape (None: free), dtype; in the model's order
    outputs: list[dict]  # name, shape (one row), kind ("classes" or "values"), scale (a value output's std)
    value_tolerance: float
    random_inputs: bool = False  # no calibration data was given: checked on random inputs, no static int8
    features: list[str] = field(default_factory=list)  # a table input's column names (--features)
    runtime: dict = field(default_factory=dict)  # the user's settings for the runtime (--params), into the manifest


RESERVED_PARAMS = ("source_model", "flavor", "value_tolerance", "output_kinds")  # the manifest params adoption writes


def read_inputs(path: Path, specs) -> dict[str, np.ndarray]:
    """The model's inputs from an .npz of arrays named after them (one array for a one-input model may have any
    name), each checked against the model: rows, shape, dtype."""
    if path.suffix != ".npz" or not path.is_file():
        raise InputError(f"--calibration: expected an .npz file of arrays named after the model's inputs "
                         f"({', '.join(s.name for s in specs)}), got {path}")
    check_npz(path)  # declared shapes against the bytes held, before numpy allocates them
    try:
        arrays = dict(np.load(path, allow_pickle=False))
    except (ValueError, OSError) as exc:
        raise InputError(f"{path}: not a readable .npz file ({exc})") from None
    if len(specs) == 1 and len(arrays) == 1:
        arrays = {specs[0].name: next(iter(arrays.values()))}
    out, rows = {}, None
    for spec in specs:
        if spec.name not in arrays:
            raise DataError(path, None, spec.name, f"an array for each model input ({', '.join(s.name for s in specs)})",
                            f"arrays {sorted(arrays)}")
        a = arrays[spec.name]
        if a.ndim != len(spec.shape) or any(d is not None and d != g for d, g in zip(spec.shape[1:], a.shape[1:])):
            want = "(" + ", ".join("N" if d is None else str(d) for d in spec.shape) + ")"
            raise DataError(path, None, spec.name, f"shape {want}", tuple(a.shape))
        kind = np.dtype(spec.dtype).kind
        if (kind == "f") != (a.dtype.kind == "f") or a.dtype.kind not in "fiub":
            raise DataError(path, None, spec.name, f"{spec.dtype} values", str(a.dtype))
        if kind == "f" and not np.isfinite(a).all():
            raise DataError(path, None, spec.name, "finite values", "NaN or infinity")
        if rows is not None and len(a) != rows:
            raise DataError(path, None, spec.name, f"{rows} rows, as the other inputs", len(a))
        rows = len(a)
        out[spec.name] = a.astype(spec.dtype)
    if rows < MIN_ROWS:
        raise DataError(path, None, specs[0].name, f"at least {MIN_ROWS} rows", rows)
    return out


def random_inputs(specs, seed: int) -> dict[str, np.ndarray]:
    """Standard normal inputs (float) or zeros (integer) for a model adopted without calibration data."""
    rng = np.random.default_rng(seed)
    out = {}
    for spec in specs:
        shape = (RANDOM_ROWS, *(1 if d is None else d for d in spec.shape[1:]))
        out[spec.name] = rng.standard_normal(shape).astype(spec.dtype) if np.dtype(spec.dtype).kind == "f" \
            else np.zeros(shape, spec.dtype)
    return out


def output_kind(ref: np.ndarray) -> str:
    """``classes`` where the last axis holds probabilities (a row's, or each node's or step's), else ``values``."""
    probabilities = ref.ndim >= 2 and ref.shape[-1] >= 2 and (ref >= 0).all() and np.allclose(ref.sum(-1), 1.0, atol=1e-3)
    return "classes" if probabilities else "values"


def agreement_metric(outputs: list[dict], tolerance: float):
    """``agreement(reference, out)``: the share of rows whose outputs agree (module docstring); both arguments are
    the outputs joined as the export engine joins them (one output as it is, several as rows x values)."""
    sizes = [int(np.prod(o["shape"])) for o in outputs]

    def agreement(reference, out) -> float:
        ref = np.asarray(reference, np.float64).reshape(len(reference), -1)
        got = np.asarray(out, np.float64).reshape(len(out), -1)
        if ref.shape != got.shape:
            return 0.0
        agree = np.ones(len(ref))
        start = 0
        for o, size in zip(outputs, sizes):
            r, g = ref[:, start:start + size], got[:, start:start + size]
            start += size
            if o["kind"] == "classes":  # the share of positions (one per row, or each node of a graph) whose top class agrees
                k = o["shape"][-1]
                agree = np.minimum(agree, (r.reshape(len(r), -1, k).argmax(-1) == g.reshape(len(g), -1, k).argmax(-1)).mean(1))
            else:
                agree = np.minimum(agree, (np.abs(r - g) <= tolerance * o["scale"]).all(1))
        return float(agree.mean())

    return agreement


def adopt_generic(model, run: RunDir, options, progress: bool = False) -> TrainingRecord:
    """Split the calibration rows (``options.holdout`` kept apart), run the Keras model on the held-out ones, write
    ``calibration.npz`` and ``holdout.npz`` (inputs, and the joined Keras outputs as ``y_test``)."""
    from edgeward.core.model_files import input_specs, keras_flavor, output_names

    specs = input_specs(model)
    given = options.calibration is not None
    x = read_inputs(Path(options.calibration), specs) if given else random_inputs(specs, options.seed)
    n = len(next(iter(x.values())))
    order = np.random.default_rng(options.seed).permutation(n)
    held = max(1, int(round(n * options.holdout)))
    test, train = order[:held], order[held:]
    x_test = {k: v[np.sort(test)] for k, v in x.items()}
    x_train = {k: v[np.sort(train)] for k, v in x.items()}
    out = model.predict(list(x_test.values()) if len(x_test) > 1 else next(iter(x_test.values())), verbose=0)
    refs = [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]
    names = output_names(model)
    outputs = [{"name": name, "shape": list(r.shape[1:]), "kind": output_kind(r),
                "scale": float(r.std()) or float(np.abs(r).max()) or 1.0} for name, r in zip(names, refs)]
    _check_labels(options.labels, outputs)
    _check_features(options.features, specs)
    runtime = read_params(Path(options.params)) if options.params else {}
    joined = refs[0] if len(refs) == 1 else np.concatenate([r.reshape(len(r), -1) for r in refs], axis=1)
    np.savez(run.calibration, **x_train)
    names_in = [s.name for s in specs]
    np.savez(run.holdout, y_test=joined, **{holdout_key(names_in, k): v for k, v in x_test.items()})
    payload = GenericPayload(model=str(options.model), flavor=keras_flavor(options.model).value,
                             inputs=[{"name": s.name, "shape": list(s.shape), "dtype": s.dtype} for s in specs],
                             outputs=outputs, value_tolerance=float(options.value_tolerance), random_inputs=not given,
                             features=list(options.features), runtime=runtime)
    data = DataInfo(str(options.calibration) if given else "random", data_sha256(options.calibration) if given else "",
                    {"train": len(train), "val": 0, "test": held})
    return TrainingRecord(task="generic", data=data, config=asdict(options), labels=tuple(options.labels),
                          thresholds={}, metrics={"model": {"agreement": 1.0}}, params=int(model.count_params()),
                          epochs_run=0, train_seconds=0.0, history={}, payload=payload)


def _check_labels(labels, outputs: list[dict]) -> None:
    if not labels:
        return
    classes = outputs[0]["shape"][-1] if outputs[0]["shape"] else 1
    binary = outputs[0]["kind"] == "values" and classes == 1 and len(labels) == 2  # one sigmoid: negative, positive
    if not (binary or (outputs[0]["kind"] == "classes" and len(labels) == classes)):
        raise InputError(f"--labels: expected {classes} class names for output {outputs[0]['name']!r} "
                         f"({outputs[0]['kind']}, shape {outputs[0]['shape']}; two for one sigmoid), got {len(labels)}")
    if len(set(labels)) != len(labels):
        raise InputError(f"--labels: expected distinct class names, got {', '.join(labels)}")


def _check_features(features, specs) -> None:
    if not features:
        return
    if len(specs) != 1 or len(specs[0].shape) != 2 or specs[0].shape[1] is None:
        raise InputError(f"--features: expected a model with one table input (N, F), got inputs "
                         f"{', '.join(f'{s.name} {tuple(s.shape)}' for s in specs)}")
    if len(features) != specs[0].shape[1] or len(set(features)) != len(features):
        raise InputError(f"--features: expected {specs[0].shape[1]} distinct column names for input {specs[0].name!r}, "
                         f"got {len(features)}")


def read_params(path: Path) -> dict:
    """The user's runtime settings: a JSON object whose keys do not clash with the ones adoption writes."""
    try:
        params = json.loads(path.read_text())
    except OSError as exc:
        raise InputError(f"--params: cannot read {path} ({exc.strerror})") from None
    except ValueError as exc:
        raise DataError(path, getattr(exc, "lineno", None), "params", "a JSON object", f"invalid JSON ({exc.msg})") from None
    if not isinstance(params, dict):
        raise DataError(path, 1, "params", "a JSON object", type(params).__name__)
    clash = sorted(set(params) & set(RESERVED_PARAMS))
    if clash:
        raise DataError(path, None, clash[0], f"keys other than {', '.join(RESERVED_PARAMS)} (adoption writes them)",
                        clash[0])
    return params
