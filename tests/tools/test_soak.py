"""The soak's verdicts (`make soak` itself runs for minutes and is not part of the suite): a leak, growing
threads or descriptors fail a phase; a steady process with noise holds; the soak CSV's rows are counted."""

from edgeward.tools.soak import judge, process_usage, rows_csv


def _samples(rss, threads=None, fds=None):
    n = len(rss)
    return [{"rss_mib": r, "threads": (threads or [8] * n)[i], "fds": (fds or [9] * n)[i]} for i, r in enumerate(rss)]


def test_a_steady_process_holds_and_a_leak_does_not():
    steady = judge(_samples([50, 100, 101, 99, 102, 100, 101, 100, 102, 101]), 0.05)
    assert steady["held"] and steady["rss_growth"] < 0.01
    leak = judge(_samples([50, 100, 102, 104, 106, 108, 110, 112, 114, 116]), 0.05)
    assert not leak["held"] and "RSS peak grew" in leak["why"]


def test_growing_threads_or_descriptors_fail():
    assert "threads grew" in judge(_samples([100] * 10, threads=[5] * 6 + [6] * 4), 0.05)["why"]
    assert "descriptors grew" in judge(_samples([100] * 10, fds=[9] * 6 + [11] * 4), 0.05)["why"]
    assert judge(_samples([100] * 10, fds=[9] * 6 + [10, 9, 9, 9]), 0.05)["held"]  # one more while a capture reopens
    assert not judge(_samples([100] * 3), 0.05)["held"]  # too short to tell


def test_the_soak_csv_counts_its_rows_and_bad_rows(tmp_path):
    source = tmp_path / "s.csv"
    source.write_text("a,b\n" + "".join(f"{i},{i}\n" for i in range(7)))
    rows, bad = rows_csv(source, tmp_path / "big.csv", 25, bad_every=10)
    lines = (tmp_path / "big.csv").read_text().splitlines()
    assert (rows, bad) == (25, 2) and len(lines) == 26 and lines[11] == "x,x" and lines[22] == "x,x"


def test_process_usage_reads_this_process():
    rss, threads, fds = process_usage()
    assert rss > 10 and threads >= 1 and fds >= 3
