"""``edgeward bench-serve MODEL``: a served model under a bounded load. Its task's own route (a runtime's
``serve_routes``) over HTTP beside the same requests answered in-process, where the task has one; then the model's
KServe v2 ``infer`` over HTTP beside Triton's gRPC protocol, on one server.

The server runs in its own process (``edgeward serve``, as deployed), with dynamic batching and without; the
load comes from ``runtime.serve.load`` in this process, at each client count for a stated time. One run of the
command measures everything side by side, so the ratios hold on a shared, noisy machine.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edgeward.core.config import at_least, check, option
from edgeward.core.errors import EdgewardError, InputError
from edgeward.core.rundir import RunDir, holdout_inputs


@dataclass(frozen=True)
class ServeBenchOptions:
    seconds: float = option(5.0, "seconds of load per measurement")
    clients: tuple[int, ...] = option((1, 8, 64), "concurrent clients, comma-separated")
    rows: int = option(1, "inputs (rows) per request")
    max_delay_ms: float = option(2.0, "the server's dynamic batching delay")
    video_run: str | None = option(None, "an exported run of a task that takes video (its data's video.mp4 as the "
                                          "live source): the MJPEG stream's frames per second with one and two viewers")
    port: int | None = option(None, "the port of the servers it starts, one after another (default: a free one); "
                                    "gRPC on the next")

    def __post_init__(self):
        at_least(self, 0.5, "seconds")
        at_least(self, 1, "rows")
        check(self, "clients", bool(self.clients) and all(isinstance(n, int) and n >= 1 for n in self.clients),
              "client counts >= 1, comma-separated")
        check(self, "port", self.port is None or (isinstance(self.port, int) and 1 <= self.port <= 65534),
              "a TCP port, 1-65534 (gRPC takes the next)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server:
    def __init__(self, model: Path | str, *flags: str, port: int | None = None):
        self.port = port or _free_port()
        self.process = subprocess.Popen([sys.executable, "-m", "edgeward", "serve", str(model), "--port", str(self.port),
                                         *flags], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/v2/health/ready", timeout=1):
                    return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise InputError(f"edgeward serve did not start: {self.process.stderr.read().decode()[-500:]}") from None
                time.sleep(0.2)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)  # graceful: in-flight requests are answered
        self.process.wait(30)


def bench_serve(source: str, options: ServeBenchOptions = ServeBenchOptions(), log=lambda s: None) -> dict:
    """``source``: a model as every verb takes one (a file, a run folder, a released name). A request carries
    ``options.rows`` of the run's held-out inputs where it is a run folder, else inputs drawn at random (the work
    does not depend on values). Where the model's task has a server route of its own (the runtime class's
    ``serve_routes``), that route is measured over HTTP beside the same requests answered in-process; then the
    model's KServe v2 ``infer`` over HTTP and gRPC. A run folder keeps the result as ``serve-bench.json``."""
    from edgeward.runtime.engine.catalogue import locate
    from edgeward.runtime.engine.model import Model
    from edgeward.runtime.registry import runtime_class
    from edgeward.runtime.services.serve.load import post, run_load

    model = Path(locate(source))
    run = RunDir(source) if Path(source).is_dir() and RunDir(source).holdout.is_file() else None
    with Model(model, threads=1) as m:
        if run is not None:
            held = holdout_inputs(np.load(run.holdout), m.input_names)
            inputs, drawn = {n: x[: options.rows] for n, x in held.items()}, f"held-out inputs of {run}"
        else:
            inputs, drawn = m.example_inputs(options.rows), "inputs drawn at random"
        inputs = m.check(inputs)
        cls = runtime_class(m.manifest.task)
        path = next(iter(cls.serve_routes), None) if cls is not None else None
        result: dict = {"model": str(model), "rows": drawn, "rows_per_request": options.rows, "seconds": options.seconds,
                        "route": None, "in_process": None, "http": []}
        if path is not None:
            body = cls.route_request(path, m.manifest, inputs)
            result["route"] = route = f"/{m.manifest.task}/{path}"  # the task's own route (POST /TASK/PATH)
            result["in_process"] = in_process = _in_process(m, cls.serve_routes[path], body)
            log(f"in-process: {in_process['per_second']:,.0f} requests/s ({route}'s handler: parse, check and run, "
                "no HTTP)")
    servers = (("on", ("--max-batch", "64", "--max-delay-ms", str(options.max_delay_ms))), ("off", ("--max-batch", "1")))
    for batching, flags in servers if path is not None else ():  # the task's route, with dynamic batching and without
        server = _Server(model, *flags, "--threads", "1", port=options.port)
        try:
            run_load("127.0.0.1", server.port, post(route, body, "127.0.0.1"), 2, 1.0)  # warm-up
            for clients in options.clients:
                r = run_load("127.0.0.1", server.port, post(route, body, "127.0.0.1"), clients, options.seconds)
                row = {"batching": batching, **asdict(r), "per_second": r.per_second}
                result["http"].append(row)
                log(f"{route}, batching {batching}, {clients:>3} clients: {r.per_second:,.0f} requests/s, p50 "
                    f"{r.p50_ms:.2f} ms, p99 {r.p99_ms:.2f} ms, errors {r.errors}")
        finally:
            server.stop()
    result["protocols"] = _protocols(model, inputs, options, log)
    if options.video_run:
        result["stream"] = _stream(RunDir(options.video_run), options.seconds, log, options.port)
    if run is not None:
        (run / "serve-bench.json").write_text(json.dumps(result, indent=2))
    return result


def _protocols(model: Path, inputs: dict, options: ServeBenchOptions, log) -> list[dict]:
    """The model's KServe v2 ``infer`` (binary tensors) over HTTP and over Triton's gRPC, side by side on one server
    (batching on), at each client count. Without the grpc extra, HTTP alone and a line that says so."""
    from edgeward.runtime.services.serve.load import kserve_infer, run_grpc_load, run_load

    try:
        from edgeward.runtime.services.serve.triton_grpc import modules

        modules()
        grpc_port = options.port + 1 if options.port else _free_port()
    except EdgewardError as exc:
        log(f"gRPC not measured: {exc}")
        grpc_port = None
    flags = ("--max-batch", "64", "--max-delay-ms", str(options.max_delay_ms), "--threads", "1")
    server = _Server(f"bench={model}", *flags, *(("--grpc-port", str(grpc_port)) if grpc_port else ()), port=options.port)
    rows = []
    try:
        http = kserve_infer("bench", inputs, "127.0.0.1")
        run_load("127.0.0.1", server.port, http, 2, 1.0)  # warm-up
        for clients in options.clients:
            measured = [("http", run_load("127.0.0.1", server.port, http, clients, options.seconds))]
            if grpc_port:
                measured.append(("grpc", run_grpc_load("127.0.0.1", grpc_port, "bench", inputs, clients, options.seconds)))
            for protocol, r in measured:
                rows.append({"protocol": protocol, **asdict(r), "per_second": r.per_second})
                log(f"infer over {protocol}, {clients:>3} clients: {r.per_second:,.0f} requests/s, p50 {r.p50_ms:.2f} ms, "
                    f"p99 {r.p99_ms:.2f} ms, errors {r.errors}")
    finally:
        server.stop()
    return rows


def _stream(run: RunDir, seconds: float, log, port: int | None = None) -> list[dict]:
    """The video stream of the run's video, played as fast as the model goes, watched by 1 and 2 viewers."""
    from edgeward.runtime.services.serve.load import watch_mjpeg

    video = Path(run.record().data.path) / "video.mp4"
    if not video.exists():
        raise InputError(f"{video}: not found; the run's data video is the stream's source")
    server = _Server(run.artifact("model.onnx"), "--source", str(video), "--no-pace-files", "--threads", "1", port=port)
    rows = []
    try:
        time.sleep(2.0)  # the feed warms up
        for viewers in (1, 2):
            before = _stats(server.port)["video"]["frames"]
            fps = watch_mjpeg("127.0.0.1", server.port, f"/{run.record().task}/stream", viewers, seconds)
            made = (_stats(server.port)["video"]["frames"] - before) / seconds
            rows.append({"viewers": viewers, "fps_per_viewer": [round(f, 1) for f in fps], "model_fps": round(made, 1)})
            log(f"video stream, {viewers} viewer(s): {', '.join(f'{f:.1f}' for f in fps)} frames/s each; "
                f"the model made {made:.1f} frames/s")
    finally:
        server.stop()
    return rows


def _stats(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=5) as r:
        return json.loads(r.read())


def _in_process(model, target: str, body: bytes, seconds: float = 2.0) -> dict:
    """The work of one request without HTTP: the route's own handler (``module:function``) on ``body``, its model
    called at once (no batching)."""
    import asyncio
    import importlib

    module, _, attr = target.partition(":")
    handler = getattr(importlib.import_module(module), attr)
    served = _Direct("bench", model)

    async def repeat():
        n, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            status, _ = await handler(served, body)
            if status != 200:
                raise InputError(f"the route answered {status} to the benchmark's own request")
            n += 1
        return n, time.perf_counter() - started

    n, elapsed = asyncio.run(repeat())
    return {"requests": n, "seconds": elapsed, "per_second": n / elapsed, "us_per_request": elapsed / n * 1e6}


class _Direct:
    """A served model as a route's handler sees it (``serve.models.Served``), its batcher calling the model at once."""

    def __init__(self, name: str, model):
        self.name, self.model, self.batcher = name, model, self

    async def submit(self, feeds: dict) -> dict:
        return self.model.run(feeds, validate=False)


def markdown(result: dict) -> str:
    """The tables of a result: the task's route (where it has one), KServe v2 over HTTP and gRPC, the stream."""
    tables = []
    if result["http"]:
        base = result["in_process"]["per_second"]
        lines = [f"`POST {result['route']}` (in-process: {base:,.0f} requests/s)", "",
                 "| batching | clients | requests/s | p50 ms | p99 ms | errors | vs in-process |",
                 "|---|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {r['batching']} | {r['clients']} | {r['per_second']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                  f"{r['errors']} | {r['per_second'] / base:.3f}x |" for r in result["http"]]
        tables.append(lines)
    if result.get("protocols"):
        lines = ["| KServe v2 infer over | clients | requests/s | p50 ms | p99 ms | errors |", "|---|---:|---:|---:|---:|---:|"]
        lines += [f"| {r['protocol']} | {r['clients']} | {r['per_second']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                  f"{r['errors']} |" for r in result["protocols"]]
        tables.append(lines)
    if result.get("stream"):
        lines = ["| stream viewers | frames/s per viewer | model frames/s |", "|---:|---|---:|"]
        lines += [f"| {r['viewers']} | {', '.join(map(str, r['fps_per_viewer']))} | {r['model_fps']} |"
                  for r in result["stream"]]
        tables.append(lines)
    return "\n\n".join("\n".join(lines) for lines in tables)
