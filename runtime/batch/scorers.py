"""What a batch scores: rows of CSV or Parquet files with a fraud model, images of a folder with a detection or
classification model. Each scorer takes a pandas frame (rows, or image paths) and returns one frame of results in
which a row that cannot be scored has its ``field`` and ``reason``; each source reads its input as such frames,
in this process or as a Ray dataset."""

from __future__ import annotations

import glob
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeward.core.errors import InputError, require
from edgeward.runtime.model import Model
from edgeward.runtime.video import IMAGE_SUFFIXES, read_image

TABLES = (".csv", ".parquet")


class FrameScorer:
    """Scores a pandas frame of rows. Returns one frame: the input's non-feature columns (ids, labels), ``score``,
    ``flag``, and for a row that cannot be scored an empty score, its first bad ``field`` and the ``reason``."""

    def __init__(self, model_path: str, threshold: float | None = None):
        from edgeward.runtime.fraud import FraudScorer

        self.scorer = FraudScorer.from_file(model_path, device="auto", threads=1, threshold=threshold)
        self.features = list(self.scorer.features)

    def __call__(self, frame):

        missing = [f for f in self.features if f not in frame.columns]
        if missing:
            raise InputError(f"input: expected a column for every model feature ({len(self.features)}), got none for "
                             f"{', '.join(missing)}")
        values = np.empty((len(frame), len(self.features)), dtype=np.float64)
        bad = np.zeros(len(frame), dtype=bool)
        reason = np.full(len(frame), "", dtype=object)
        field = np.full(len(frame), "", dtype=object)
        for j, name in enumerate(self.features):
            column = _floats(frame[name])
            wrong = (~np.isfinite(column) | (np.abs(column) > np.finfo(np.float32).max)) & ~bad
            if wrong.any():
                field[wrong] = name
                reason[wrong] = [f"expected a finite number, got {v!r}" for v in frame[name].to_numpy()[wrong]]
                bad |= wrong
            values[:, j] = column
        out = frame[[c for c in frame.columns if c not in self.features]].reset_index(drop=True)
        score = np.full(len(frame), np.nan, dtype=np.float32)
        if (~bad).any():
            result = self.scorer.model.run({self.scorer.input_name: values[~bad].astype(np.float32)}, validate=False)
            score[~bad] = result[self.scorer.model.output_names[0]].reshape(-1)
        out["score"], out["flag"], out["field"], out["reason"] = score, ~bad & (score >= self.scorer.threshold), field, reason
        return out

    result_columns = ("score", "flag")


def _floats(series) -> np.ndarray:
    """A column as float64, a value that is no number as NaN: Arrow's cast for a column of good text (fast), pandas'
    coercion for a column with a bad value in it."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    if series.dtype.kind in "fiub":
        return series.to_numpy(dtype=np.float64)
    try:
        return pc.cast(pa.array(series), pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


class ImageScorer:
    """Detects or classifies each image of a frame of paths: ``detections`` (JSON: label, score, box) and ``count``,
    or ``label``, ``score`` and ``top`` (JSON, the 5 best); ``flag``: something was found (detection), the top
    class reaches 0.5 (classification). An image that cannot be read is rejected with the reader's reason."""

    def __init__(self, model_path: str, threshold: float | None = None):
        from edgeward.runtime.classify import Classifier
        from edgeward.runtime.detect import Detector

        model = Model(model_path, device="auto", threads=1)
        self.detect = model.manifest.task == "detect"
        self.task = Detector(model) if self.detect else Classifier(model)
        self.result_columns = ("detections", "count", "flag") if self.detect else ("label", "score", "top", "flag")

    def __call__(self, frame):
        import pandas as pd

        rows = []
        for path in frame["path"]:
            try:
                image = read_image(path)
            except InputError as exc:  # the result columns typed as for a scored image (Arrow needs one type)
                empty = {"detections": "[]", "count": 0} if self.detect else {"label": "", "score": np.nan, "top": "[]"}
                rows.append({**empty, "flag": False, "field": "image", "reason": str(exc)})
                continue
            rows.append({**(self._detect(image) if self.detect else self._classify(image)), "field": "", "reason": ""})
        out = pd.concat([frame.reset_index(drop=True), pd.DataFrame(rows, columns=[*self.result_columns, "field", "reason"])],
                        axis=1)
        return out

    def _detect(self, image) -> dict:
        found = self.task.detect(image)
        detections = [{"label": d.label, "score": round(float(d.score), 4), "box": [round(float(v), 1) for v in d.box]}
                      for d in found]
        return {"detections": json.dumps(detections), "count": len(found), "flag": bool(found)}

    def _classify(self, image) -> dict:
        top = self.task.classify(image, top_k=5)
        return {"label": top[0].label, "score": float(top[0].score), "flag": bool(top[0].score >= 0.5),
                "top": json.dumps([{"label": p.label, "score": round(float(p.score), 4)} for p in top])}


@dataclass(frozen=True)
class Source:
    """The input: its files, their kind (``.csv``, ``.parquet`` or ``images``) and the scorer that fits the model."""

    files: list[str]
    kind: str
    scorer: type

    def frames(self, rows: int):
        """pandas frames of at most ``rows`` rows (or image paths), read with Arrow as Ray reads them."""
        import pandas as pd

        if self.kind == "images":
            for start in range(0, len(self.files), rows):
                yield pd.DataFrame({"path": self.files[start:start + rows]})
            return
        pa = require("pyarrow", "ray")
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        for path in self.files:
            if self.kind == ".parquet":
                for batch in pq.ParquetFile(path).iter_batches(batch_size=rows):
                    yield pa.Table.from_batches([batch]).to_pandas()
                continue
            reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 24),
                                    convert_options=_csv_convert(pacsv, path))
            for batch in reader:
                frame = pa.Table.from_batches([batch]).to_pandas()
                for start in range(0, len(frame), rows):
                    yield frame.iloc[start:start + rows]

    def dataset(self, ray):
        if self.kind == "images":
            return ray.data.from_items([{"path": p} for p in self.files])
        if self.kind == ".parquet":
            return ray.data.read_parquet(self.files)
        import pyarrow.csv as pacsv

        return ray.data.read_csv(self.files, convert_options=_csv_convert(pacsv, self.files[0]))


def source_for(model: str, pattern: str) -> Source:
    """The input files of ``pattern`` (a file, a glob, or an image folder) and the scorer of the model's task."""
    with Model(model, device="x86-64-cpu") as m:
        task = m.manifest.task
    scorers = {"fraud": FrameScorer, "detect": ImageScorer, "classify": ImageScorer}
    if task not in scorers:
        raise InputError(f"{model}: a {task} model; batch scores fraud rows, and images for detect and classify models")
    path = Path(pattern)
    if path.is_dir():
        files = sorted(str(p) for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    else:
        files = sorted(glob.glob(pattern)) if any(c in pattern for c in "*?[") else [pattern]
        files = [f for f in files if Path(f).is_file()]
    if not files:
        raise InputError(f"--input {pattern}: no CSV, Parquet or image file found")
    kinds = {Path(f).suffix.lower() for f in files}
    kind = "images" if kinds <= set(IMAGE_SUFFIXES) else kinds.pop() if len(kinds) == 1 and kinds <= set(TABLES) else None
    wanted = "images" if scorers[task] is ImageScorer else "rows"
    if kind is None or (kind == "images") != (wanted == "images"):
        takes = "an image folder (or images)" if wanted == "images" else "CSV or Parquet files (one kind)"
        raise InputError(f"--input {pattern}: a {task} model takes {takes}, got {', '.join(sorted(kinds))}")
    return Source(files, kind, scorers[task])


def split(frame, result_columns):
    """(scored rows without field and reason, rejected rows without the results)."""
    bad = frame["reason"] != ""
    return frame.loc[~bad].drop(columns=["field", "reason"]), frame.loc[bad].drop(columns=list(result_columns))


def _csv_convert(pacsv, path: str):
    """Every column read as text: a bad value then rejects its row instead of failing the read."""
    import pyarrow as pa

    with open(path, newline="") as f:
        header = f.readline().strip().split(",")
    return pacsv.ConvertOptions(column_types={h.strip(): pa.string() for h in header}, strings_can_be_null=False)
