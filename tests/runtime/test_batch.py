"""`edgeward batch`: CSV and Parquet files scored into Parquet, every row scored or rejected with its reason, in
this process and on a local Ray instance (`ray.init(num_cpus=2)`), the same rows giving the same bytes."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from edgeward.app.cli import main
from edgeward.runtime import FraudScorer
from edgeward.runtime.services.batch import BatchOptions, run_batch


@pytest.fixture(scope="module")
def damaged(fraud_csv, fraud_model, tmp_path_factory):
    """The fraud CSV with five rows damaged (text, empty, infinity, overflowing float32, NaN), as CSV and Parquet."""
    root = tmp_path_factory.mktemp("batch")
    frame = pd.read_csv(fraud_csv, dtype=str, keep_default_na=False)
    with FraudScorer.from_file(fraud_model) as scorer:
        features = list(scorer.features)
    for row, value in zip((3, 10, 500, 4000, 9000), ("abc", "", "inf", "1e39", "nan")):
        frame.loc[row, features[row % len(features)]] = value
    frame.to_csv(root / "a.csv", index=False)
    frame.iloc[:6000].to_csv(root / "part1.csv", index=False)
    frame.iloc[6000:].to_csv(root / "part2.csv", index=False)
    frame.to_parquet(root / "a.parquet", index=False)
    return root, frame, features


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance for this module's tests (starting one takes seconds)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def _sorted(folder) -> pd.DataFrame:
    """The rows of a folder of Parquet parts in tx_id order (the ids' number: text in a Parquet input of text)."""
    return pd.read_parquet(folder).sort_values("tx_id", key=lambda ids: ids.astype("int64")).reset_index(drop=True)


def test_every_row_is_scored_or_rejected_with_its_reason(damaged, fraud_model, tmp_path, capsys):
    root, frame, features = damaged
    assert main(["batch", str(fraud_model), "--input", str(root / "a.csv"), "--output", str(tmp_path / "out")]) == 0
    assert f"{len(frame):,} rows in" in capsys.readouterr().out
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["rows"] == len(frame) == summary["scored"] + summary["rejected"] and summary["rejected"] == 5
    rejects = _sorted(tmp_path / "out" / "rejects")
    assert set(rejects["tx_id"]) == {int(frame.loc[r, "tx_id"]) for r in (3, 10, 500, 4000, 9000)}  # numbers, as in score
    reasons = dict(zip(rejects["tx_id"], rejects["reason"]))
    assert reasons[int(frame.loc[3, "tx_id"])] == "expected a finite number, got 'abc'"
    assert reasons[int(frame.loc[4000, "tx_id"])] == "expected a finite number, got '1e39'"
    assert dict(zip(rejects["tx_id"], rejects["field"]))[int(frame.loc[3, "tx_id"])] == features[3 % len(features)]
    scores = _sorted(tmp_path / "out" / "scores")
    good = frame.drop(index=[3, 10, 500, 4000, 9000]).sort_values("tx_id", key=lambda ids: ids.astype("int64"))
    good = good.reset_index(drop=True)
    with FraudScorer.from_file(fraud_model, threads=1) as scorer:
        expected = scorer.score(good[features].astype(np.float32).to_numpy())
        assert (scores["flag"] == (scores["score"] >= scorer.threshold)).all()
    np.testing.assert_array_equal(scores["score"].to_numpy(), expected)
    assert list(scores["tx_id"]) == list(good["tx_id"].astype("int64"))
    # a glob of CSV files and the Parquet file give the same scores
    for name, pattern in (("glob", "part*.csv"), ("parquet", "a.parquet")):
        s = run_batch(str(fraud_model), str(root / pattern), tmp_path / name, BatchOptions(batch_rows=1000))
        assert (s.rows, s.rejected) == (len(frame), 5)
        np.testing.assert_array_equal(_sorted(tmp_path / name / "scores")["score"].to_numpy(), expected)


def test_passed_through_columns_get_the_types_score_gives_them(damaged, fraud_model, tmp_path):
    """ids and labels come out as numbers where every value is one, as a reader of `score`'s CSV sees them; a column
    with one value that is not a number stays text, whole, in every part."""
    root, frame, features = damaged
    frame = frame.copy()
    frame.loc[7000, "customer_id"] = "C-17"  # one id that is no number, in the second Arrow block of rows
    frame.to_csv(tmp_path / "in.csv", index=False)
    assert main(["score", str(fraud_model), "--input", str(tmp_path / "in.csv"), "--out", str(tmp_path / "s.csv")]) == 0
    s = run_batch(str(fraud_model), str(tmp_path / "in.csv"), tmp_path / "out", BatchOptions(batch_rows=1000))
    assert s.rejected == 5
    kept = [c for c in frame.columns if c not in features]
    want, got = pd.read_csv(tmp_path / "s.csv")[kept], _sorted(tmp_path / "out" / "scores")[kept]
    assert want["tx_id"].dtype == np.int64 and want["is_fraud"].dtype == np.int64
    assert {c: got[c].dtype.kind for c in kept} == {c: want[c].dtype.kind for c in kept}
    assert "C-17" in set(got["customer_id"]) and got["timestamp"].tolist() == want["timestamp"].tolist()
    rejects = _sorted(tmp_path / "out" / "rejects")
    assert rejects["tx_id"].dtype == np.int64 and len(rejects) == 5


def test_ray_gives_the_same_bytes_as_local(damaged, fraud_model, released_fraud, local_ray, tmp_path):
    root, frame, _ = damaged
    local = run_batch(str(fraud_model), str(root / "a.csv"), tmp_path / "local")
    remote = run_batch(str(fraud_model), str(root / "a.csv"), tmp_path / "ray", BatchOptions(engine="ray", batch_rows=3000))
    # a released name works on Ray as it does in process (Ray's workers run in another folder)
    named = run_batch("fraud-sim", str(root / "a.csv"), tmp_path / "named", BatchOptions(engine="ray", batch_rows=3000))
    assert _sorted(tmp_path / "named" / "scores").equals(_sorted(tmp_path / "ray" / "scores")) and named.rows == remote.rows
    assert (remote.rows, remote.scored, remote.rejected, remote.flagged) == (local.rows, local.scored, local.rejected,
                                                                              local.flagged)
    a, b = _sorted(tmp_path / "local" / "scores"), _sorted(tmp_path / "ray" / "scores")
    assert a["score"].to_numpy().tobytes() == b["score"].to_numpy().tobytes()
    assert a["tx_id"].tolist() == b["tx_id"].tolist() and a["flag"].tolist() == b["flag"].tolist()
    import pyarrow.parquet as pq

    types = [pq.read_table(tmp_path / e / "scores").schema.field("tx_id").type for e in ("local", "ray")]
    assert list(map(str, types)) == ["int64", "int64"]  # typed on Ray as in this process
    ra, rb = _sorted(tmp_path / "local" / "rejects"), _sorted(tmp_path / "ray" / "rejects")
    assert ra["reason"].tolist() == rb["reason"].tolist()


def test_bad_inputs_are_one_line(damaged, fraud_model, tmp_path, capsys):
    root, frame, features = damaged
    assert main(["batch", str(fraud_model), "--input", str(root / "nothing*.csv"), "--output", str(tmp_path / "o")]) == 2
    assert "no CSV, Parquet or image file found" in capsys.readouterr().err
    frame.drop(columns=[features[0]]).to_csv(tmp_path / "short.csv", index=False)
    assert main(["batch", str(fraud_model), "--input", str(tmp_path / "short.csv"), "--output", str(tmp_path / "o")]) == 2
    assert f"got none for {features[0]}" in capsys.readouterr().err
    assert main(["batch", str(fraud_model), "--input", str(root / "a.csv"), "--output", str(tmp_path / "o2")]) == 0
    assert main(["batch", str(fraud_model), "--input", str(root / "a.csv"), "--output", str(tmp_path / "o2")]) == 2
    assert "holds scores already" in capsys.readouterr().err


def test_an_image_folder_with_a_detector_in_process_and_on_ray(detect_run, detect_data, local_ray, tmp_path):
    """Each image detected (JSON detections, a count); a damaged file rejected with its reason; Ray gives the same."""
    folder = tmp_path / "images"
    shutil.copytree(detect_data / "images" / "test", folder)
    (folder / "zz-broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (folder / "x.jpg").mkdir()  # a folder named like an image is no image (it was a traceback, issue 37)
    model = str(detect_run / "artifacts" / "model.onnx")
    local = run_batch(model, str(folder), tmp_path / "local", BatchOptions(batch_rows=3))
    images = len([p for p in folder.glob("*.jpg") if p.is_file()])
    assert (local.rows, local.scored, local.rejected) == (images, images - 1, 1)
    rejects = pd.read_parquet(tmp_path / "local" / "rejects")
    assert rejects["path"].str.endswith("zz-broken.jpg").all() and rejects["reason"].str.endswith("not a readable image").all()
    scores = pd.read_parquet(tmp_path / "local" / "scores").sort_values("path").reset_index(drop=True)
    assert set(scores.columns) == {"path", "detections", "count", "flag"}
    assert all(len(json.loads(d)) == n for d, n in zip(scores["detections"], scores["count"]))
    remote = run_batch(model, str(folder), tmp_path / "ray", BatchOptions(engine="ray", batch_rows=3))
    assert (remote.rows, remote.rejected) == (local.rows, local.rejected)
    other = pd.read_parquet(tmp_path / "ray" / "scores").sort_values("path").reset_index(drop=True)
    assert other["detections"].tolist() == scores["detections"].tolist()
    with pytest.raises(Exception, match="a detect model takes an image folder"):
        run_batch(model, str(detect_data / "data.yaml"), tmp_path / "x")


def _run_fails(args: list[str], capsys) -> str:
    assert main(args) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]  # not the progress bar
    assert len(err) == 1, err
    return err[0].removeprefix("error: ")


def test_damaged_tables_are_one_line_errors_and_leave_nothing_written(damaged, fraud_model, tmp_path, capsys):
    """Issue 37's batch cases: each was a traceback (and a glob's bad second file left the first one's part)."""
    root, frame, features = damaged
    text = (root / "a.csv").read_text().splitlines(keepends=True)
    (tmp_path / "ragged.csv").write_text("".join(text[:40] + [text[40].rsplit(",", 1)[0] + "\n"] + text[41:]))
    latin = "caf\u00e9," + text[70].split(",", 1)[1]  # the row's first field, in Latin-1
    (tmp_path / "latin1.csv").write_bytes("".join(text[:70]).encode() + latin.encode("latin-1") + "".join(text[71:]).encode())
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "twice.csv").write_text(text[0].rstrip("\n") + f",{features[1]}\n" + "".join(text[1:5]))
    (tmp_path / "text.parquet").write_text("not parquet at all")
    (tmp_path / "cut.parquet").write_bytes((root / "a.parquet").read_bytes()[:3000])
    out = tmp_path / "out"
    cases = {
        "ragged.csv": f"{tmp_path / 'ragged.csv'} line 41: expected {len(frame.columns)} columns, as the header names, "
                      f"got {len(frame.columns) - 1}",
        "latin1.csv": f"{tmp_path / 'latin1.csv'} line 71: expected UTF-8 text, got bytes that are not",
        "empty.csv": f"{tmp_path / 'empty.csv'}: empty; expected a header line of column names, then rows",
        "twice.csv": f"{tmp_path / 'twice.csv'} line 1: column '{features[1]}' appears 2 times; expected each once",
        "text.parquet": f"{tmp_path / 'text.parquet'}: not a readable Parquet file",
        "cut.parquet": f"{tmp_path / 'cut.parquet'}: not a readable Parquet file",
    }
    for name, message in cases.items():
        got = _run_fails(["batch", str(fraud_model), "--input", str(tmp_path / name), "--output", str(out)], capsys)
        assert got.startswith(message), (name, got)
        assert not out.exists() and not (tmp_path / "out.partial").exists(), name
    # a glob whose second file fails deep inside: the first file's scores are not left behind
    shutil.copy(root / "a.csv", tmp_path / "g1.csv")
    shutil.copy(tmp_path / "ragged.csv", tmp_path / "g2.csv")
    got = _run_fails(["batch", str(fraud_model), "--input", str(tmp_path / "g*.csv"), "--output", str(out)], capsys)
    assert got.startswith(f"{tmp_path / 'g2.csv'} line 41") and not out.exists()
    (tmp_path / "a-file").write_text("x")
    got = _run_fails(["batch", str(fraud_model), "--input", str(root / "a.csv"), "--output", str(tmp_path / "a-file")],
                     capsys)
    assert got == f"--output {tmp_path / 'a-file'}: a file; expected a folder to write scores/ and rejects/ into"


def test_a_column_of_timestamps_is_rejected_row_by_row_not_scored(damaged, fraud_model, tmp_path):
    root, frame, features = damaged
    stamped = frame.iloc[:1000].copy()
    stamped[features[0]] = pd.date_range("2026-01-01", periods=1000, freq="min")
    stamped.to_parquet(tmp_path / "stamped.parquet", index=False)
    s = run_batch(str(fraud_model), str(tmp_path / "stamped.parquet"), tmp_path / "out")
    assert (s.rows, s.scored, s.rejected, s.flagged) == (1000, 0, 1000, 0)
    rejects = pd.read_parquet(tmp_path / "out" / "rejects")
    assert set(rejects["field"]) == {features[0]}
    assert rejects["reason"].iloc[0].startswith("expected a finite number, got np.datetime64('2026-01-01")


def test_a_ray_address_where_nothing_answers_is_a_quick_one_line_error(damaged, fraud_model, tmp_path, capsys):
    import socket
    import time

    pytest.importorskip("ray")
    root, _, _ = damaged
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    got = _run_fails(["batch", str(fraud_model), "--input", str(root / "a.csv"), "--output", str(tmp_path / "o"),
                      "--engine", "ray", "--address", f"127.0.0.1:{port}"], capsys)
    assert got.startswith(f"--address 127.0.0.1:{port}: no Ray cluster answers there")
    assert time.monotonic() - started < 30  # Ray itself waited 82 s


def test_unit_records_that_are_not_ours_count_as_not_done(tmp_path):
    """An interrupted run's unit records are read back when it resumes: a damaged, foreign, oversized or deeply nested
    record is a unit to score again, not an error and not counts believed."""
    from edgeward.runtime.services.batch.units import RECORD_BYTES, Counts, Unit, done, prepare

    prepare(tmp_path)
    units = [Unit(n, "in.csv", n * 100, n * 100 + 100) for n in range(6)]
    record = lambda n: tmp_path / "units" / f"{n:06d}.json"  # noqa: E731
    good = {"rows": 10, "scored": 9, "rejected": 1, "flagged": 2}
    record(0).write_text(json.dumps({"unit": {"number": 0, "path": "in.csv", "start": 0, "end": 100}, "counts": good}))
    record(1).write_text(json.dumps({"unit": {"number": 1, "path": "other.csv", "start": 100, "end": 200}, "counts": good}))
    record(2).write_text(json.dumps({"unit": {"number": 2, "path": "in.csv", "start": 200, "end": 300},
                                     "counts": {**good, "rows": "10"}}))
    record(3).write_text('{"unit": ' * 100_000)
    record(4).write_bytes(b" " * (RECORD_BYTES + 1))
    record(5).write_bytes(b"\xff\xfe not json")
    assert done(tmp_path, units) == {0: Counts(10, 9, 1, 2)}


def test_a_unit_opened_before_its_file_is_taken_away_is_read_whole(damaged, fraud_model, tmp_path, monkeypatch):
    """The file renamed just after a unit has opened it (as a user moving it mid-run may): the unit reads what it
    opened, its header's names included, without opening the file again."""
    from edgeward.runtime.services.batch import units
    from edgeward.runtime.services.batch.scorers import source_for

    root, _, _ = damaged
    csv = tmp_path / "in.csv"
    shutil.copy(root / "a.csv", csv)
    source = source_for(str(fraud_model), str(csv))
    unit = units.plan(source, 1_000)[1]
    want = pd.concat(units.read(source, unit, 1_000))
    opened = units._open

    def open_then_move(path):
        f = opened(path)
        csv.rename(tmp_path / "away.csv")
        return f

    monkeypatch.setattr(units, "_open", open_then_move)
    got = pd.concat(units.read(source, unit, 1_000))
    assert not csv.exists() and len(got) == len(want) > 0 and got.equals(want)


def test_the_error_line_finders_say_an_unknown_line_for_a_file_gone_since(tmp_path):
    """A damaged unit whose file is gone by the time its line is looked for: the line is "?", not a traceback."""
    from edgeward.runtime.services.batch.scorers import _first_bad_utf8_line, _first_ragged_line

    gone = str(tmp_path / "gone.csv")
    assert _first_ragged_line(gone, 3) == "?" and _first_bad_utf8_line(gone) == "?"
    (tmp_path / "here.csv").write_bytes(b"a,b\n1,2\n1,2,3\n\xff\n")
    assert _first_ragged_line(str(tmp_path / "here.csv"), 2) == 3 and _first_bad_utf8_line(str(tmp_path / "here.csv")) == 4
