"""Helpers of the serving tests: a real server in a thread, small HTTP calls, and the live sources' set-up."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager

from edgeward.runtime import Model
from edgeward.runtime.services.serve.app import build_app, load_models
from edgeward.runtime.services.serve.options import ServeOptions


@contextmanager
def running(models: list[str], options: ServeOptions = ServeOptions()):
    import uvicorn

    app = build_app(load_models(models, options), options)
    loop = "asyncio" if options.grpc_port is not None else "auto"  # gRPC's asyncio server takes no uvloop
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, http="httptools", loop=loop))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def post(url: str, path: str, data, headers=None) -> tuple[int, dict]:
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    request = urllib.request.Request(f"http://{url}{path}", body, {"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def get(url: str, path: str, headers=None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(f"http://{url}{path}", headers=headers or {})) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_for(fn, seconds: float = 30.0):
    deadline = time.monotonic() + seconds
    while True:
        value = fn()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def live_options(detect_run, commands_run, detect_data, commands_data) -> tuple[list[str], ServeOptions]:
    """A detector on the data's video and a recognizer on a stream WAV, both played as live sources; thresholds at
    the floor, so that these barely trained models draw boxes and raise events (the plumbing is under test)."""
    from edgeward.runtime.tasks.commands import RecognizerOptions
    from edgeward.runtime.tasks.detect import DetectorOptions
    from edgeward.train.commands.data import stream_files

    wav, _ = stream_files(commands_data, "test")
    with Model(commands_run / "artifacts" / "model.onnx") as m:
        floor = {label: 0.0 for label in m.manifest.labels if label not in ("_silence_", "_unknown_")}
    options = ServeOptions(source=(str(detect_data / "video.mp4"), str(wav)),
                           runtimes=(DetectorOptions(score_threshold=0.01, max_detections=5),
                                     RecognizerOptions(thresholds=floor, refractory_ms=300)))
    return [str(detect_run / "artifacts" / "model.onnx"), str(commands_run / "artifacts" / "model.onnx")], options
