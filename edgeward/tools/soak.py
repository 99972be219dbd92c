"""``make soak``: long runs through the runtime while the process is watched for leaks.

Three phases in one process, one after the other, each through the runtime class of a task that takes its feed
(``runtime/registry.py``): an hour of audio (the command recognizer), 20,000 frames of a looping video file through
``LatestFrames`` (the detector), and a 10-million-row CSV through ``score`` (the fraud scorer). A
sampler thread reads the process' resident memory, threads and open file descriptors every few seconds. A phase
holds when, after its warm-up (its first fifth), RSS stays within 5% of its peak in the first half of what
follows, threads and descriptors do not grow, and every block, frame and row is accounted for. The models are tiny
ones trained on generated data (once, kept in ``OUT/models``, in processes of their own): the soak is about the
process, not about accuracy.

``python -m edgeward.tools soak [--out runs/soak] [--audio-hours 1] [--frames 20000] [--rows 10000000]`` writes
``soak.json`` and ``soak.png`` (RSS, threads and descriptors over time) and prints the table.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edgeward.tools.tiny_models import build_toys
from edgeward.core.config import at_least, fraction, option
from edgeward.runtime.registry import Feed, feeds, runtime_class


@dataclass(frozen=True)
class SoakOptions:
    out: str = option("runs/soak", "folder for the models, data, soak.json and soak.png")
    audio_hours: float = option(1.0, "hours of audio through the command recognizer")
    frames: int = option(20_000, "video frames through the detector")
    rows: int = option(10_000_000, "CSV rows through score")
    every_s: float = option(1.0, "seconds between two samples of memory, threads and descriptors")
    tolerance: float = option(0.05, "most RSS growth after warm-up, as a fraction")

    def __post_init__(self):
        at_least(self, 0.001, "audio_hours", "every_s")
        at_least(self, 100, "frames", "rows")
        fraction(self, "tolerance")


def process_usage() -> tuple[float, int, int]:
    """(resident memory in MiB, threads, open file descriptors) of this process, from /proc (Linux)."""
    status = Path("/proc/self/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["Threads"]), len(os.listdir("/proc/self/fd"))


class Sampler:
    """Samples ``process_usage`` every ``every_s`` seconds in a thread, tagged with the phase running."""

    def __init__(self, every_s: float):
        self.every_s, self.phase, self.samples = every_s, "setup", []
        self._stop = threading.Event()
        self._started = time.perf_counter()
        self._thread = threading.Thread(target=self._run, name="edgeward-soak-sampler", daemon=True)
        self._thread.start()

    def sample(self) -> None:
        rss, threads, fds = process_usage()
        self.samples.append({"t": round(time.perf_counter() - self._started, 2), "phase": self.phase,
                             "rss_mib": round(rss, 1), "threads": threads, "fds": fds})

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.sample()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def judge(samples: list[dict], tolerance: float) -> dict:
    """A phase's verdict from its samples. Warm-up is the first fifth; the rest is halved. A leak shows as peaks
    that keep rising, so: every sample of the second half within ``tolerance`` of the first half's peak RSS, and
    threads and descriptors no higher in the second half than in the first (descriptors: one more allowed, a
    looping capture holds a second file briefly while it reopens)."""
    after = samples[len(samples) // 5:]
    if len(after) < 4:
        return {"samples": len(samples), "held": False, "why": "fewer than 4 samples after warm-up: run longer"}
    half = len(after) // 2
    rss, threads, fds = (np.array([s[k] for s in after]) for k in ("rss_mib", "threads", "fds"))
    growth = float(rss[half:].max() / rss[:half].max() - 1)
    verdict = {"samples": len(samples), "rss_mib_min": float(rss.min()), "rss_mib_max": float(rss.max()),
               "rss_growth": round(growth, 4), "threads": [int(threads.min()), int(threads.max())],
               "fds": [int(fds.min()), int(fds.max())]}
    why = []
    if growth > tolerance:
        why.append(f"RSS peak grew {growth:.1%} after warm-up (limit {tolerance:.0%})")
    if threads[half:].max() > threads[:half].max():
        why.append(f"threads grew: {threads[:half].max()} to {threads[half:].max()}")
    if fds[half:].max() > fds[:half].max() + 1:
        why.append(f"descriptors grew: {fds[:half].max()} to {fds[half:].max()}")
    return {**verdict, "held": not why, "why": "; ".join(why)}


def soak_audio(runtime, model: Path, wav: Path, options: SoakOptions, progress: bool) -> dict:
    """A WAV file (the toy's test stream), looped (a little noise added so no two passes are the same), in 0.1 s
    blocks, through the ``stream`` of the runtime class that takes audio."""
    from tqdm import tqdm

    from edgeward.runtime.io.audio_io import read_wav, to_mono

    hours = options.audio_hours
    samples, rate = read_wav(wav)
    samples = to_mono(samples).astype(np.float32)
    block, total = rate // 10, int(hours * 3600 * rate)
    rng = np.random.default_rng(0)
    fed = [0]

    def blocks():
        bar = tqdm(total=int(hours * 3600), unit="s", desc="audio", disable=not progress, leave=False)
        while fed[0] < total:
            at = fed[0] % (len(samples) - block)
            piece = samples[at: at + block] + rng.normal(0, 1e-3, block).astype(np.float32)
            fed[0] += block
            bar.update(0.1)
            yield piece, rate
        bar.close()

    events = 0
    with runtime.from_file(model, device="x86-64-cpu", threads=1) as rec:
        for _ in rec.stream(blocks()):
            events += 1
    return {"audio_hours": fed[0] / rate / 3600, "blocks": fed[0] // block, "events": events,
            "accounted": fed[0] >= total}


def soak_video(runtime, model: Path, video: Path, options: SoakOptions, progress: bool) -> dict:
    """A video file, looped, frame by frame through the ``detect`` of the runtime class that takes video."""
    from tqdm import tqdm

    from edgeward.runtime.io.video import LatestFrames, StreamOptions

    found = taken = 0
    frames = options.frames
    with runtime.from_file(model, device="x86-64-cpu", threads=1) as detector, \
            LatestFrames(str(video), realtime=False, options=StreamOptions(loop=True)) as source, \
            tqdm(total=frames, unit="frame", desc="video", disable=not progress, leave=False) as bar:
        for _, frame in source.frames():
            found += len(detector.detect(frame))
            taken += 1
            bar.update()
            if taken == frames:
                break
        read, dropped, loops = source.read_count, source.dropped, source.loops
    # not realtime: the reader waits for the detector, so every frame read was detected (one may wait, unread)
    return {"frames": taken, "read": read, "dropped": dropped, "loops": loops, "detections": found,
            "accounted": taken == frames and dropped == 0 and read - taken <= 1}


def rows_csv(source: Path, out: Path, rows: int, bad_every: int = 100_000) -> tuple[int, int]:
    """``source``'s rows repeated to ``rows`` lines, a row with text in every field after every ``bad_every``;
    (rows, bad rows) written."""
    lines = source.read_bytes().splitlines(keepends=True)
    header, body = lines[0], itertools.cycle(lines[1:])
    bad = b",".join([b"x"] * (header.count(b",") + 1)) + b"\n"  # every field text: a reject whatever the features
    written = bad_rows = 0
    with open(out, "wb") as f:
        f.write(header)
        while written < rows:
            take = min(bad_every, rows - written)
            f.write(b"".join(itertools.islice(body, take)))
            written += take
            if written < rows:
                f.write(bad)
                written += 1
                bad_rows += 1
    return written, bad_rows


def soak_score(runtime, model: Path, data: Path, options: SoakOptions, progress: bool) -> dict:
    """A CSV file's rows repeated to ``options.rows`` (with bad rows), through ``score``'s CSV path with the runtime
    class that takes rows."""
    from edgeward.runtime.tasks.csv_scoring import score_csv

    folder = Path(options.out)
    csv_path = folder / "rows.csv"
    total, bad = rows_csv(data, csv_path, options.rows)
    try:
        with runtime.from_file(model, device="x86-64-cpu", threads=1) as scorer:
            s = score_csv(scorer, csv_path, folder / "scores.csv", progress=progress)
    finally:
        csv_path.unlink(missing_ok=True)
    (folder / "scores.csv").unlink(missing_ok=True)
    return {"rows": s.rows, "scored": s.scored, "rejected": s.rejected, "bad_rows_written": bad,
            "accounted": s.rows == total and s.scored + s.rejected == total and s.rejected == bad}


def plot(samples: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    t = [s["t"] / 60 for s in samples]
    top.plot(t, [s["rss_mib"] for s in samples], color="tab:blue")
    top.set_ylabel("RSS (MiB)")
    bottom.plot(t, [s["threads"] for s in samples], label="threads")
    bottom.plot(t, [s["fds"] for s in samples], label="open descriptors")
    bottom.set_xlabel("minutes")
    bottom.legend(loc="upper left")
    start = 0
    for i in range(1, len(samples) + 1):  # shade and name each phase
        if i == len(samples) or samples[i]["phase"] != samples[start]["phase"]:
            for ax in (top, bottom):
                ax.axvspan(t[start], t[i - 1], alpha=0.08 if len({s["phase"] for s in samples[:i]}) % 2 else 0.16, color="grey")
            top.text((t[start] + t[i - 1]) / 2, top.get_ylim()[1], samples[start]["phase"], ha="center", va="bottom")
            start = i
    top.set_title("edgeward soak: one process, three phases", pad=18)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# one phase per feed, on a toy run whose task's runtime takes it
PHASES = {Feed.AUDIO: ("audio", soak_audio), Feed.VIDEO: ("video", soak_video), Feed.ROWS: ("score", soak_score)}


def run_soak(options: SoakOptions, log=print, progress: bool = True) -> dict:
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    toys = build_toys(out / "models", log, exports=(("--format", "onnx", "--precision", "fp32"),))
    sampler = Sampler(options.every_s)
    phases = {}
    try:
        for feed, (name, soak) in PHASES.items():
            toy = next(t for t in toys.values() if feed in feeds(t.task))  # a task whose runtime takes the feed
            sampler.phase = name
            sampler.sample()
            started = time.perf_counter()
            result = soak(runtime_class(toy.task), toy.model, toy.check_input, options, progress)
            sampler.sample()
            phases[name] = {**result, "seconds": round(time.perf_counter() - started, 1)}
            phases[name].update(judge([s for s in sampler.samples if s["phase"] == name], options.tolerance))
            log(f"{name}: {json.dumps(phases[name])}")
    finally:
        sampler.close()
    result = {"options": asdict(options), "phases": phases, "samples": sampler.samples,
              "held": all(p["held"] and p["accounted"] for p in phases.values())}
    (out / "soak.json").write_text(json.dumps(result, indent=1))
    plot(sampler.samples, out / "soak.png")
    return result


def markdown(result: dict) -> str:
    rows = ["| phase | work | seconds | RSS after warm-up (MiB) | peak growth | threads | descriptors | accounted | held |",
            "|---|---|---:|---:|---:|---:|---:|---|---|"]
    work = {"audio": lambda p: f"{p['audio_hours']:.2f} h of audio, {p['blocks']:,} blocks, {p['events']:,} events",
            "video": lambda p: f"{p['frames']:,} frames ({p['loops']} loops), {p['dropped']} dropped",
            "score": lambda p: f"{p['rows']:,} rows: {p['scored']:,} scored + {p['rejected']:,} rejected"}
    for name, p in result["phases"].items():
        rss = f"{p.get('rss_mib_min', 0):,.0f}-{p.get('rss_mib_max', 0):,.0f}"
        rows.append(f"| {name} | {work[name](p)} | {p['seconds']:,.0f} | {rss} | "
                    f"{p.get('rss_growth', 0):.1%} | {'-'.join(map(str, p.get('threads', [])))} | "
                    f"{'-'.join(map(str, p.get('fds', [])))} | {'yes' if p['accounted'] else 'NO'} | "
                    f"{'yes' if p['held'] else 'NO: ' + p['why']} |")
    return "\n".join(rows)


def add_arguments(parser) -> None:
    from edgeward.app.flags import add_flags

    add_flags(parser, SoakOptions)


def run(args) -> int:
    from edgeward.app.flags import config_from

    options = config_from(args, SoakOptions)
    result = run_soak(options)
    print(markdown(result))
    print(f"soak.json and soak.png in {options.out}; {'held' if result['held'] else 'FAILED'}")
    return 0 if result["held"] else 1
