"""Faults while running: a stream or camera that drops and returns, a video file looped, the disk filling up
while scores are written, SIGINT and SIGTERM in the middle of a run, and a microphone that overflows.

Real components wherever this machine has them: a real HTTP MJPEG server read by OpenCV, a real ``edgeward
score`` process signalled while it reads a pipe, a real full filesystem (tmpfs) where the kernel lets us
mount one. Fakes only at the hardware edge (tests/hardware.py: there is no camera or microphone here)."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hardware import FakeSoundDevice, FlakyOpener
from streams import MjpegServer

from edgeward.app.cli import main
from edgeward.core.errors import OutputError
from edgeward.runtime.io.video import LatestFrames, StreamOptions

cv2 = pytest.importorskip("cv2")


def test_a_stream_that_drops_goes_away_and_returns_is_followed_to_its_end():
    # connection 1: 15 frames, then the port is closed for 0.4 s; connection 2: 15 frames; then 503 (gone)
    with MjpegServer(frames=15, down_s=0.4, serve=2) as server, \
            LatestFrames(server.url, realtime=False, options=StreamOptions(reconnect=4, backoff_s=0.1)) as frames:
        got = [number for number, _ in frames.frames()]
    assert got == list(range(30)) and frames.reconnects == 1 and server.connections == 2
    assert "frames: 30, dropped: 0, reconnects: 1" == frames.summary()


def test_a_camera_unplugged_and_plugged_back_is_reopened():
    camera = FlakyOpener(frames=5, works=2)  # no camera on these machines: 5 frames, unplugged, back once, gone
    with LatestFrames(0, realtime=False, opener=camera, options=StreamOptions(reconnect=2, backoff_s=0.01)) as frames:
        got = list(frames.frames())
    assert len(got) == 10 and frames.reconnects == 1 and camera.opened == 4


def test_a_looping_video_file_runs_until_closed(tmp_path):
    path = tmp_path / "v.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 32))
    for i in range(7):
        writer.write(np.full((32, 32, 3), 30 * i, np.uint8))
    writer.release()
    with LatestFrames(str(path), options=StreamOptions(loop=True)) as frames:
        got = [number for number, _ in zip(range(30), (n for n, _ in frames.frames()))]
    assert got == list(range(30)) and frames.loops >= 4 and frames.dropped == 0
    assert not any(t.name == "edgeward-capture" and t.is_alive() for t in threading.enumerate())


def _fraud_scorer(fraud_model):
    from edgeward.runtime.tasks.fraud import FraudScorer

    return FraudScorer.from_file(fraud_model)


def test_a_disk_filling_up_while_scores_are_written_leaves_no_file(fraud_model, fraud_csv, tmp_path, monkeypatch):
    """ENOSPC injected at the file write (the OS edge), after 64 KiB of scores."""
    from edgeward.runtime.tasks import csv_scoring

    class FullDisk:
        def __init__(self, f):
            self.f, self.written = f, 0

        def write(self, text):
            self.written += len(text)
            if self.written > 65536:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self.f.name)
            return self.f.write(text)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    real_open = open
    monkeypatch.setattr(csv_scoring, "open", lambda path, mode="r", **kw: (FullDisk if "w" in mode else lambda f: f)(
        real_open(path, mode, **kw)), raising=False)
    out = tmp_path / "scores.csv"
    with _fraud_scorer(fraud_model) as scorer, pytest.raises(OutputError) as raised:
        csv_scoring.score_csv(scorer, fraud_csv, out)
    assert f"{out}: cannot write the scores: No space left on device" in str(raised.value)
    assert list(tmp_path.iterdir()) == []


def test_a_real_full_filesystem(fraud_model, fraud_csv, tmp_path):
    """A 16 KiB tmpfs: needs root and a kernel that lets this container mount one (else skipped, with why)."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        code = main(["score", str(fraud_model), "--input", str(fraud_csv), "--out", str(mount / "scores.csv")])
        assert code == 1 and list(mount.iterdir()) == []
    finally:
        subprocess.run(["umount", str(mount)], check=True)


# x86-64 read, poll, select, futex, clock_nanosleep, epoll_wait, pselect6, ppoll, epoll_pwait: the main thread sleeps
WAITING = {"0", "7", "23", "202", "230", "232", "270", "271", "281"}


def _edgeward(*argv: str) -> list[str]:
    """The command line of ``edgeward ARGV`` with Ctrl-C acted on as in a terminal, however the tests were started: a
    shell starts a background job (``make test &``, ``nohup``) with SIGINT ignored, the child inherits that, and
    Python then installs no handler of its own (as a backgrounded ``edgeward`` should, and does)."""
    start = "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); sys.argv[0] = 'edgeward'; " \
            "from edgeward.app.cli import main; raise SystemExit(main())"
    return [sys.executable, "-c", start, *argv]


def _waiting_on_input(pid: int) -> bool:
    """The process's main thread sleeps in a read or a wait on a file: for ``score`` past its first block, the pipe."""
    return Path(f"/proc/{pid}/syscall").read_text().split()[0] in WAITING


def _signal_thread(pid: int, tid: int, sig: int) -> None:
    """``tgkill``: a signal to one thread of another process, as the kernel may deliver a process's signal."""
    import ctypes

    if ctypes.CDLL(None, use_errno=True).syscall(234, pid, tid, int(sig)) != 0:  # SYS_tgkill on x86-64
        raise OSError(ctypes.get_errno(), "tgkill")


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="reads x86-64 system call numbers from /proc")
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
@pytest.mark.parametrize("to", ["process", "worker thread"])
def test_a_signal_mid_run_keeps_what_was_scored_as_partial(fraud_model, fraud_csv, tmp_path, sig, code, to):
    """``edgeward score`` reads a pipe: it scores the first 4 MiB block, then waits for more that never comes, and is
    signalled there. Sent to the process, or to one of its other threads (ONNX Runtime's pool; the kernel may choose
    any thread), the signal stops it. No sleep decides when: the test waits until the first block's scores are
    written and the main thread sleeps on its input (/proc/PID/syscall); the 60 s limits catch a hang."""
    lines = Path(fraud_csv).read_bytes().splitlines(keepends=True)
    body = b"".join(lines[1:])
    block = lines[0] + body * (5_000_000 // len(body) + 1)  # more than one 4 MiB read
    fifo = tmp_path / "rows.csv"
    os.mkfifo(fifo)
    out = tmp_path / "scores.csv"
    writer = os.open(fifo, os.O_RDWR)  # holds the pipe open: the reader never sees its end
    proc = subprocess.Popen(_edgeward("score", str(fraud_model), "--input", str(fifo), "--out", str(out)),
                            stderr=subprocess.PIPE, text=True)
    try:
        os.write(writer, block)  # returns once the reader has taken all but what the pipe holds
        partial = tmp_path / "scores.csv.partial"
        deadline = time.monotonic() + 60
        while not (partial.exists() and partial.stat().st_size > 0 and _waiting_on_input(proc.pid)):
            assert time.monotonic() < deadline and proc.poll() is None, "score never waited on its input"
            time.sleep(0.02)
        if to == "process":
            proc.send_signal(sig)
        else:
            threads = sorted(int(t) for t in os.listdir(f"/proc/{proc.pid}/task") if int(t) != proc.pid)
            assert threads, "score runs no other thread"
            _signal_thread(proc.pid, threads[0], sig)
        _, err = proc.communicate(timeout=60)
    finally:
        os.close(writer)
        proc.kill()
    assert proc.returncode == code, err
    assert "Traceback" not in err and f"partial: {out} was not written" in err
    assert not out.exists()
    scored = pd.read_csv(partial)
    rows_in_block = (4 << 20) // len(body) * (len(lines) - 1)  # at least these rows were in the first block
    assert len(scored) >= rows_in_block * 0.9 and f"interrupted after {len(scored):,} rows scored" in err
    assert scored["score"].between(0, 1).all()


def _signal_while_waiting(argv: list[str], ready, sig: int, to: str) -> tuple[int, str]:
    """Run the CLI with ``argv``; once ``ready(lines so far on stdout)`` and its main thread sleeps in a wait (no
    sleep of the test decides when), send ``sig`` to the process or to one of its other threads; (exit code, stderr).
    The 60 s limits catch a hang; they measure no speed."""
    proc = subprocess.Popen(_edgeward(*argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
    try:
        deadline = time.monotonic() + 60
        while not (ready(lines) and _waiting_on_input(proc.pid)):
            assert time.monotonic() < deadline and proc.poll() is None, f"never ready: {proc.stderr.read()[-500:]}"
            time.sleep(0.02)
        if to == "process":
            proc.send_signal(sig)
        else:
            threads = sorted(int(t) for t in os.listdir(f"/proc/{proc.pid}/task") if int(t) != proc.pid)
            assert threads, "the verb runs no other thread"
            _signal_thread(proc.pid, threads[0], sig)
        proc.wait(timeout=60)
        return proc.returncode, proc.stderr.read()
    finally:
        proc.kill()


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="reads x86-64 system call numbers from /proc")
@pytest.mark.parametrize("to", ["process", "worker thread"])
def test_a_signal_stops_run_detect_waiting_on_a_stream_that_says_nothing(detect_run, to):
    """A camera URL that accepts the connection and never answers: `run detect` waits to open it (up to its 120 s
    timeout), and Ctrl-C ends the wait, wherever the kernel delivers it."""
    import socket

    server = socket.create_server(("127.0.0.1", 0))
    held = []
    threading.Thread(target=lambda: held.append(server.accept()), daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.getsockname()[1]}/camera.mjpg"
        code, err = _signal_while_waiting(["run", "detect", str(detect_run / "artifacts" / "model.onnx"), "--source", url,
                                           "--timeout-s", "120", "--reconnect", "0", "--json"],
                                          lambda lines: bool(held), signal.SIGINT, to)
    finally:
        server.close()
    assert code == 130 and "Traceback" not in err, err


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="reads x86-64 system call numbers from /proc")
@pytest.mark.parametrize("to", ["process", "worker thread"])
def test_a_signal_stops_run_detect_on_a_stream_that_stalls(detect_run, to):
    """A stream gives a few frames, then holds its connection open and silent: the detector waits for a frame that
    does not come (the reader waits up to its 120 s timeout), and SIGTERM ends it, wherever it is delivered."""
    with MjpegServer(frames=4, hold_s=300) as server:
        code, err = _signal_while_waiting(["run", "detect", str(detect_run / "artifacts" / "model.onnx"), "--source",
                                           server.url, "--timeout-s", "120", "--reconnect", "0", "--json"],
                                          lambda lines: server.sent == 4 and lines, signal.SIGTERM, to)
    assert code == 143 and "Traceback" not in err, err


def test_a_waiting_reader_reads_as_a_buffered_file_does(tmp_path):
    from edgeward.core.files import WaitingReader

    r, w = os.pipe()
    os.write(w, b"head,er\nrow 1\nrow 2\nrest")
    os.close(w)
    with WaitingReader(os.fdopen(r, "rb", buffering=0)) as f:
        assert f.readline() == b"head,er\n" and f.read(4) == b"row " and f.read(100) == b"1\nrow 2\nrest"
        assert f.read(10) == b"" and f.readline() == b""


def test_a_microphone_that_overflows_keeps_recognising_and_says_so(commands_run, commands_data, monkeypatch, capsys):
    from edgeward.runtime.io.audio_io import read_wav
    from edgeward.train.commands.data import stream_files

    samples, rate = read_wav(stream_files(commands_data, "test")[0])
    fake = FakeSoundDevice(samples.astype(np.float32), rate, overflow_every=10, pace_s=0.002)
    monkeypatch.setitem(sys.modules, "sounddevice", fake)
    code = main(["run", "commands", str(commands_run / "artifacts" / "model.onnx"), "--source", "mic", "--json"])
    out, err = capsys.readouterr()
    assert code == 0 and "Traceback" not in err, err
    # the whole recording went through (the tiny test model finds few commands: its events are not the point)
    assert fake.blocks == len(samples) // int(rate * 0.1) and fake.blocks >= 290
    line = next(line for line in err.splitlines() if "audio input overflows" in line)
    dropped = int(line.rsplit(":", 1)[1])
    assert f"audio input overflows: {fake.blocks // 10}," in line and dropped < fake.blocks // 2, line
