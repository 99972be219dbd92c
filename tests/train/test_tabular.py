from __future__ import annotations

import numpy as np
import pytest

from edgeward.core.errors import DataError, InputError
from edgeward.train.fraud.tabular import load_csv, time_split


def _write(path, text):
    path.write_text(text)
    return path


def test_features_exclude_label_time_and_ids_and_rows_are_time_ordered(tmp_path):
    p = _write(tmp_path / "d.csv", "tx_id,timestamp,a,b,y\n1,2026-01-02,1,10,0\n2,2026-01-01,2,20,1\n3,2026-01-03,3,30,0\n")
    d = load_csv(p, "y")
    assert d.features == ("a", "b") and d.time_column == "timestamp"
    np.testing.assert_array_equal(d.x[:, 0], [2, 1, 3])
    np.testing.assert_array_equal(d.y, [1, 0, 0])


def test_missing_label_column(tmp_path):
    p = _write(tmp_path / "d.csv", "a,b\n1,2\n")
    with pytest.raises(DataError, match=r"d.csv line 1, field 'Class': expected a label column named 'Class', got \"columns \['a', 'b'\]\""):
        load_csv(p, "Class")


def test_non_numeric_value_names_line_and_field(tmp_path):
    p = _write(tmp_path / "d.csv", "a,b,y\n1,2,0\n3,abc,1\n")
    with pytest.raises(DataError, match="d.csv line 3, field 'b': expected a finite number, got 'abc'"):
        load_csv(p, "y", time_column=None)


def test_missing_value_names_line_and_field(tmp_path):
    p = _write(tmp_path / "d.csv", "a,b,y\n1,2,0\n3,4,1\n5,,0\n")
    with pytest.raises(DataError, match="d.csv line 4, field 'b': expected a finite number, got ''"):
        load_csv(p, "y", time_column=None)


def test_bad_label(tmp_path):
    p = _write(tmp_path / "d.csv", "a,y\n1,0\n2,yes\n")
    with pytest.raises(DataError, match="d.csv line 3, field 'y': expected a label of 0 or 1, got 'yes'"):
        load_csv(p, "y")


def test_bad_time_value(tmp_path):
    p = _write(tmp_path / "d.csv", "timestamp,a,y\n2026-01-01,1,0\nyesterday,2,1\n")
    with pytest.raises(DataError, match="d.csv line 3, field 'timestamp': expected a number or a date, got 'yesterday'"):
        load_csv(p, "y")


def test_missing_file_and_unknown_feature(tmp_path):
    with pytest.raises(InputError, match="nope.csv: data file not found"):
        load_csv(tmp_path / "nope.csv", "y")
    p = _write(tmp_path / "d.csv", "a,y\n1,0\n")
    with pytest.raises(DataError, match="field 'zz': expected a feature column named 'zz'"):
        load_csv(p, "y", features=["zz"])


def test_time_split_is_ordered_and_complete():
    s = time_split(100, val=0.15, test=0.15)
    assert (s.train, s.val, s.test) == (slice(0, 70), slice(70, 85), slice(85, 100))
