"""FraudScorer inputs and the streaming CSV scorer, on a real exported ONNX model."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from edgeward.app.cli import main
from edgeward.core.errors import DataError, TensorError
from edgeward.runtime import FraudScorer, score_csv


@pytest.fixture()
def scorer(fraud_model):
    with FraudScorer.from_file(fraud_model) as s:
        yield s


@pytest.fixture()
def frame(fraud_csv):
    return pd.read_csv(fraud_csv, nrows=50)


def test_all_input_kinds_agree(scorer, frame):
    x = frame[list(scorer.features)].to_numpy(np.float32)
    want = scorer.score(x)
    assert want.shape == (50,) and ((want >= 0) & (want <= 1)).all()
    shuffled = frame[list(reversed(frame.columns))].assign(extra=1.0)  # order-independent, extras ignored
    np.testing.assert_allclose(scorer.score(shuffled), want, rtol=1e-6)
    np.testing.assert_allclose(scorer.score(shuffled.to_dict("records")), want, rtol=1e-6)
    np.testing.assert_allclose(scorer.score(shuffled.to_dict("list")), want, rtol=1e-6)
    np.testing.assert_allclose(scorer.score(shuffled.iloc[3].to_dict()), want[3:4], rtol=1e-6)
    np.testing.assert_allclose(scorer.score(x[3]), want[3:4], rtol=1e-6)
    np.testing.assert_allclose(scorer.score(x.astype(np.float64)), want, rtol=1e-6)
    np.testing.assert_array_equal(scorer.flag(x), want >= scorer.threshold)


def test_missing_column(scorer, frame):
    with pytest.raises(TensorError, match=r"missing feature column\(s\) \['amount'\]"):
        scorer.score(frame.drop(columns=["amount"]))


def test_non_numeric_value(scorer, frame):
    rows = frame.to_dict("records")
    rows[4]["distance"] = "far"
    with pytest.raises(TensorError, match="row 4, feature 'distance': expected a number, got 'far'"):
        scorer.score(rows)


def test_nan_names_row_and_feature(scorer, frame):
    frame.loc[7, "hour"] = np.nan
    with pytest.raises(TensorError, match="row 7, feature 'hour': expected a finite number, got nan"):
        scorer.score(frame)


def test_wrong_width_and_type(scorer):
    with pytest.raises(TensorError, match=r"rows: expected shape \(N, 20\) or \(20,\), got \(2, 3\)"):
        scorer.score(np.zeros((2, 3), np.float32))
    with pytest.raises(TensorError, match="expected an array, a dict, a list of dicts or a DataFrame, got int"):
        scorer.score(5)


def _damaged_copy(src, dst):
    rows = list(csv.reader(open(src)))[:201]
    header = rows[0]
    amount, hour = header.index("amount"), header.index("hour")
    rows[10][amount] = ""  # line 11: missing value
    rows[20][hour] = "noon"  # line 21: not a number
    rows[30] = rows[30][:4]  # line 31: short row
    rows[40][amount] = "nan"  # line 41: NaN
    rows[50][amount] = "inf"  # line 51: infinity
    with open(dst, "w", newline="") as f:
        w = csv.writer(f)
        w.writerows(rows[:100])
        f.write("\n")  # a blank line is not a row
        w.writerows(rows[100:])
    return len(rows) - 1


def test_every_row_lands_in_exactly_one_file(scorer, fraud_csv, tmp_path):
    n = _damaged_copy(fraud_csv, tmp_path / "in.csv")
    s = score_csv(scorer, tmp_path / "in.csv", tmp_path / "out.csv", block_bytes=4096)  # many blocks, clean and not
    assert (s.rows, s.scored, s.rejected) == (n, n - 5, 5)
    scores = pd.read_csv(s.scores_path)
    rejects = pd.read_csv(s.rejects_path, keep_default_na=False)
    assert len(scores) == s.scored and len(rejects) == s.rejected
    assert rejects.line.tolist() == [11, 21, 31, 41, 51]
    assert rejects.reason.tolist() == ["missing value", "expected a number, got 'noon'", "expected 25 fields, got 4",
                                       "expected a finite number, got 'nan'", "expected a finite number, got 'inf'"]
    assert rejects.field.tolist() == ["amount", "hour", "", "amount", "amount"]
    assert sorted(scores.line.tolist() + rejects.line.tolist()) == sorted(set(scores.line) | set(rejects.line))
    assert scores.line.max() == n + 2  # the blank line shifted the last row's line number
    assert {"tx_id", "is_fraud", "score", "flag"} <= set(scores.columns)
    # the chunked scores equal one batched call on the same rows
    src = pd.read_csv(fraud_csv, nrows=n)
    ok = src[src.tx_id.isin(scores.tx_id)]
    np.testing.assert_allclose(scores.score, scorer.score(ok), atol=1e-6)


def test_header_without_a_feature(scorer, tmp_path):
    p = tmp_path / "in.csv"
    p.write_text("tx_id,amount\n1,2\n")
    with pytest.raises(DataError, match="in.csv line 1, field 'hour': expected a column for every model feature"):
        score_csv(scorer, p, tmp_path / "out.csv")


def test_empty_file(scorer, tmp_path):
    p = tmp_path / "in.csv"
    p.write_text("")
    with pytest.raises(DataError, match="in.csv line 1: expected a header row, got 'an empty file'"):
        score_csv(scorer, p, tmp_path / "out.csv")


def test_cli_score_counts_and_errors(fraud_model, fraud_csv, tmp_path, capsys):
    n = _damaged_copy(fraud_csv, tmp_path / "in.csv")
    code = main(["score", str(fraud_model), "--input", str(tmp_path / "in.csv"), "--out", str(tmp_path / "s.csv")])
    assert code == 0
    out = capsys.readouterr().out
    assert f"{n:,} input rows = {n - 5:,} scored + 5 rejected" in out
    assert main(["score", str(tmp_path / "missing.onnx"), "--input", str(fraud_csv), "--out", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"error: {tmp_path / 'missing.onnx'}: model file not found"
    assert "Traceback" not in err


def test_output_over_the_input_is_refused(scorer, fraud_csv, tmp_path):
    from edgeward.core.errors import InputError

    copy = tmp_path / "in.csv"
    copy.write_bytes(fraud_csv.read_bytes())
    with pytest.raises(InputError, match="the output files must differ from the input"):
        score_csv(scorer, copy, copy)
    assert copy.read_bytes() == fraud_csv.read_bytes()  # nothing lost


def test_a_missing_extra_names_it():
    from edgeward.core.errors import MissingExtraError, require

    with pytest.raises(MissingExtraError, match=r"no_such_module_xyz is not installed: pip install 'edgeward\[camera\]'"):
        require("no_such_module_xyz", "camera")


def test_the_arrow_path_and_the_row_by_row_path_write_the_same_bytes(scorer, fraud_csv, tmp_path, monkeypatch):
    """Clean blocks go through Arrow; without pyarrow (the base install) every block goes row by row."""
    from edgeward.runtime.tasks import csv_scoring

    fast = score_csv(scorer, fraud_csv, tmp_path / "fast.csv", block_bytes=50_000)
    monkeypatch.setattr(csv_scoring.Chunk, "fast", lambda *args: False)
    slow = score_csv(scorer, fraud_csv, tmp_path / "slow.csv", block_bytes=50_000)
    assert (fast.rows, fast.scored) == (slow.rows, slow.scored) and fast.rows > 10_000
    assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "slow.csv").read_bytes()


def test_a_bad_row_sends_only_its_neighbourhood_down_the_slow_path(scorer, fraud_csv, tmp_path, monkeypatch):
    """A block with a bad line is halved until the parts are clean or small; the result is the same bytes as
    scoring every row one by one, and rows far from the bad one still go through Arrow."""
    from edgeward.runtime.tasks import csv_scoring

    lines = Path(fraud_csv).read_bytes().splitlines(keepends=True)
    at = lines[0].decode().strip().split(",").index("amount")
    fields = lines[5000].rstrip(b"\n").split(b",")
    lines[5000] = b",".join(fields[:at] + [b"x"] + fields[at + 1:]) + b"\n"  # text in a feature: one reject
    (tmp_path / "in.csv").write_bytes(b"".join(lines))
    slow_rows = []
    add = csv_scoring.Chunk.add
    monkeypatch.setattr(csv_scoring.Chunk, "add", lambda self, number, raw: slow_rows.append(number) or add(self, number, raw))
    split = score_csv(scorer, tmp_path / "in.csv", tmp_path / "split.csv")  # one block: the whole file
    assert 0 < len(slow_rows) <= 2 * csv_scoring.SPLIT_LINES and 5001 in slow_rows
    monkeypatch.setattr(csv_scoring.Chunk, "fast", lambda *args: False)
    whole = score_csv(scorer, tmp_path / "in.csv", tmp_path / "whole.csv")
    assert (split.rows, split.scored, split.rejected) == (whole.rows, whole.scored, whole.rejected)
    assert split.rejected == 1
    assert (tmp_path / "split.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert (tmp_path / "split.rejects.csv").read_bytes() == (tmp_path / "whole.rejects.csv").read_bytes()
