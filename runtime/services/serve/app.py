"""The ASGI app: KServe v2 for every served model, task endpoints, ``/metrics``, and the limits (token, body
size, a bounded queue per model).

Handlers are plain Starlette routes (no validation layer in between: single-row requests are the hot path);
each goes through ``guard`` for the token, the body limit, the error answers and the metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edgeward.core.errors import DeviceError, EdgewardError, InputError, require
from edgeward.runtime.registry import Feed, fed, serve_routes
from edgeward.runtime.services.serve import kserve
from edgeward.runtime.services.serve.batcher import DynamicBatcher, Overloaded
from edgeward.runtime.services.serve.live import Feeds, describe_sources
from edgeward.runtime.services.serve.models import Served, find, index, load_models, one_of, reload_into
from edgeward.runtime.services.serve.options import ServeOptions


def build_app(served: list[Served], options: ServeOptions = ServeOptions()):
    """The Starlette app serving ``served`` (their batchers are made here)."""
    require("starlette", "serve")
    prometheus = require("prometheus_client", "serve")
    from starlette.applications import Starlette
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    registry = prometheus.CollectorRegistry()
    requests = prometheus.Counter("edgeward_requests", "requests by route and status", ["route", "status"], registry=registry)
    latency = prometheus.Histogram("edgeward_request_seconds", "request latency by route", ["route"], registry=registry,
                                   buckets=(.0005, .001, .002, .005, .01, .02, .05, .1, .25, 1, 5))
    queue = prometheus.Gauge("edgeward_queue_rows", "rows waiting for the model", ["model"], registry=registry)
    batch_rows = prometheus.Histogram("edgeward_batch_rows", "rows per model call", ["model"], registry=registry,
                                      buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 1024))
    refused = prometheus.Counter("edgeward_refused", "requests refused because the queue was full", ["route"],
                                 registry=registry)
    dropped = prometheus.Gauge("edgeward_frames_dropped", "video frames read but never processed", registry=registry)
    viewers = prometheus.Gauge("edgeward_stream_viewers", "clients watching a video stream (/TASK/stream)", registry=registry)
    recent: dict[str, deque] = {}  # route -> the latest request latencies, for /stats
    feeds = Feeds(served, options)
    dropped.set_function(lambda: feeds.video.dropped if feeds.video else 0)
    by_name = {s.name: s for s in served}
    for s in served:
        s.batcher = DynamicBatcher(lambda x, s=s: s.model.run(x, validate=False), options.max_batch,
                                   options.max_delay_ms / 1000, options.max_queue,
                                   observe=lambda rows, n=s.name: batch_rows.labels(n).observe(rows))
        queue.labels(s.name).set_function(lambda b=s.batcher: b.queued)
    limit = int(options.max_body_mb * (1 << 20))

    def authorised(request: Request) -> bool:
        """The bearer token, or ``?token=`` (the page's ``<img>`` and ``EventSource`` cannot send headers); compared in
        constant time."""
        given = request.headers.get("authorization", "").removeprefix("Bearer ") or request.query_params.get("token", "")
        return hmac.compare_digest(given.encode(), options.token.encode())

    def error(status: int, message: str) -> Response:
        return JSONResponse({"error": message}, status_code=status)

    def guard(route: str, handler: Callable, public: bool = False):
        async def endpoint(request: Request) -> Response:
            started = time.perf_counter()
            try:
                if options.token and not public and not authorised(request):
                    response = error(401, "expected the header Authorization: Bearer TOKEN (or ?token=TOKEN)")
                else:
                    response = await handler(request)
            except Overloaded as exc:
                refused.labels(route).inc()
                response = error(503, f"busy: {exc}; retry later")
                response.headers["Retry-After"] = "1"
            except TooLarge as exc:
                response = error(413, str(exc))
            except BodyTimeout as exc:
                log.warning("%s: %s", route, exc)
                response = error(408, str(exc))
            except ClientDisconnect:  # nobody is left to answer: one line, no traceback
                log.warning("%s: the client went away before its request was complete", route)
                response = error(400, "the client went away before its request was complete")
            except EdgewardError as exc:
                response = error(400 if isinstance(exc, InputError) else 500, str(exc))
            except Exception as exc:  # a fault of the server's own: answered, and said in one line
                log.warning("%s: %s: %s", route, type(exc).__name__, exc)
                response = error(500, f"internal error: {type(exc).__name__}")
            seconds = time.perf_counter() - started
            requests.labels(route, str(response.status_code)).inc()
            latency.labels(route).observe(seconds)
            recent.setdefault(route, deque(maxlen=500)).append(seconds)
            return response
        return endpoint

    async def body(request: Request) -> bytes:
        """The request body, within the size limit and within ``body_timeout_s`` (a client that promises more
        bytes than it sends would hold the connection for good)."""
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise TooLarge(f"request body of {int(declared):,} bytes exceeds the limit of {limit:,} bytes (--max-body-mb)")
        chunks, size = [], 0

        async def read():
            nonlocal size
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise TooLarge(f"request body exceeds the limit of {limit:,} bytes (--max-body-mb)")
                chunks.append(chunk)

        try:
            await asyncio.wait_for(read(), options.body_timeout_s)
        except asyncio.TimeoutError:
            promised = f" of the {int(declared):,} promised" if declared and declared.isdigit() else ""
            raise BodyTimeout(f"request body: {size:,} bytes{promised} arrived in {options.body_timeout_s:g} s "
                              "(--body-timeout-s)") from None
        return b"".join(chunks)

    def model_of(request: Request, ready: bool = True) -> Served:
        """The model the path names; with ``ready``, one that is not unloaded."""
        return find(by_name, request.path_params["name"], ready)

    async def server_metadata(request):
        import edgeward

        return JSONResponse({"name": "edgeward", "version": edgeward.__version__, "extensions": kserve.EXTENSIONS})

    async def ok(request):
        return Response(status_code=200)

    async def metadata(request):
        s = model_of(request)
        return JSONResponse(kserve.model_metadata(s.name, s.model))

    async def ready(request):
        return Response(status_code=200 if model_of(request, ready=False).ready else 400)

    async def infer(request):
        s = model_of(request)
        started, rows, answered = time.perf_counter_ns(), 0, False
        try:
            parsed = kserve.Request(await body(request), request.headers.get(kserve.HEADER_LENGTH.lower()))
            kserve.check_batch_size(s.name, parsed.inputs, s.max_batch_size)
            feeds = s.model.check(parsed.inputs)
            outputs = await s.batcher.submit(feeds)
            content, headers = kserve.response(s.name, parsed, outputs)
            rows, answered = len(next(iter(feeds.values()))), True
        finally:
            s.stats.add(answered, time.perf_counter_ns() - started, rows)
        return Response(content, headers=headers, media_type="application/json" if not headers else "application/octet-stream")

    async def config(request):
        s = model_of(request)
        return JSONResponse(kserve.model_config(s.name, s.model, s.max_batch_size))

    async def statistics(request):
        chosen = [model_of(request, ready=False)] if "name" in request.path_params else served
        return JSONResponse({"model_stats": [kserve.model_statistics(s.name, s.stats, s.batcher) for s in chosen]})

    async def repository_index(request):
        return JSONResponse(index(served))

    async def load(request):
        await asyncio.get_running_loop().run_in_executor(None, reload_into, model_of(request, ready=False), options)
        return JSONResponse({})

    async def unload(request):
        model_of(request, ready=False).ready = False
        return JSONResponse({})

    def task_route(task: str, path: str, handler: Callable) -> Route:
        """``POST /TASK/PATH``, a route of the task's own (its runtime class's ``serve_routes``): on the served
        model of that task named by ``?model=``, or the only one."""
        async def endpoint(request):
            s = one_of(served, task, request.query_params.get("model"))
            status, doc = await handler(s, await body(request))
            return JSONResponse(doc, status_code=status)

        return Route(f"/{task}/{path}", guard(f"{task}_{path}", endpoint), methods=["POST"])

    async def models(request):
        return JSONResponse({"models": [{"name": s.name, "task": s.model.manifest.task, "format": s.model.manifest.format,
                                         "precision": s.model.manifest.precision,
                                         "inputs": [kserve.tensor_metadata(t) for t in s.model.manifest.inputs],
                                         "outputs": [kserve.tensor_metadata(t) for t in s.model.manifest.outputs],
                                         "labels": list(s.model.manifest.labels),
                                         "features": list(s.model.manifest.features)} for s in served],
                             "video": feeds.video is not None, "audio": feeds.audio is not None})

    async def page(request):
        return HTMLResponse(PAGE.read_text())

    async def stats(request):
        out = {"routes": {route: {"requests": len(v), "p50_ms": round(float(np.percentile(v, 50)) * 1e3, 3),
                                  "p99_ms": round(float(np.percentile(v, 99)) * 1e3, 3)} for route, v in recent.items() if v}}
        if feeds.video:
            out["video"] = {"fps": feeds.video.latest["fps"], "frames": feeds.video.frames, "dropped": feeds.video.dropped,
                            "error": feeds.video.error, "ended": feeds.video.ended}
        if feeds.audio:
            out["audio"] = {"events": feeds.audio.count, "error": feeds.audio.error, "ended": feeds.audio.ended}
        return JSONResponse(out)

    async def latest(request):
        video = feeds.need_video()
        return JSONResponse({**video.latest, "error": video.error})

    async def frame(request):
        """One frame's picture: ``?n=N`` (a number ``/TASK/latest`` gave: its caption and this picture are of one
        frame), else the newest. A page that shows these never stays loading, as one showing the stream does."""
        video = feeds.need_video()
        if "n" in request.query_params:
            n = request.query_params["n"]
            if not n.isdigit() or len(n) > 12:
                raise InputError(f"query 'n': expected a frame number, got {n[:40]!r}")
            shown = video.frame(int(n))
            if shown is None:
                return error(404, f"frame {n} is not kept (the newest is {video.number}; the last {video.KEPT} are)")
        else:
            shown = video.recent[-1]
        if not shown.jpeg:
            return error(404, "no frame yet")
        return Response(shown.jpeg, media_type="image/jpeg",
                        headers={"Cache-Control": "no-store", "X-Edgeward-Frame": str(shown.number)})

    async def stream(request):
        video = feeds.need_video()

        async def frames():
            viewers.inc()
            try:
                seen = -1
                while True:
                    newest = video.recent[-1]
                    if newest.number != seen and newest.jpeg:
                        seen, jpeg = newest.number, newest.jpeg
                        yield b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: " + str(len(jpeg)).encode() + \
                            b"\r\n\r\n" + jpeg + b"\r\n"
                    elif video.error:
                        return
                    await asyncio.sleep(0.005)
            finally:
                viewers.dec()

        return StreamingResponse(frames(), media_type="multipart/x-mixed-replace; boundary=frame")

    async def events(request):
        # where a client left off: ?after=N, or the Last-Event-ID an EventSource sends when it reconnects
        field, after = ("query 'after'", request.query_params["after"]) if "after" in request.query_params else \
            ("header 'Last-Event-ID'", request.headers.get("last-event-id", "0"))
        after = after.strip() or "0"
        if not (after.isascii() and after.isdigit()) or len(after) > 18:
            raise InputError(f"{field}: expected the number of the last event seen (a whole number >= 0), "
                             f"got {after[:40]!r}")
        last = int(after)
        audio = feeds.need_audio()

        async def lines():
            nonlocal last
            quiet = time.monotonic()
            while True:
                for event in audio.after(last):
                    last = event["seq"]
                    yield f"id: {event['seq']}\ndata: {json.dumps(event)}\n\n".encode()
                    quiet = time.monotonic()
                if time.monotonic() - quiet > 15:  # a comment line keeps proxies from closing an idle stream
                    yield b": keep-alive\n\n"
                    quiet = time.monotonic()
                await asyncio.sleep(0.05)

        return StreamingResponse(lines(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    async def metrics(request):
        return Response(prometheus.generate_latest(registry), media_type=prometheus.CONTENT_TYPE_LATEST)

    routes = [
        Route("/", guard("page", page)),
        Route("/models", guard("models", models)),
        Route("/stats", guard("stats", stats)),
        # the video feed's routes, under each task whose runtime takes video (the registry's): /TASK/latest, ...
        *(Route(f"/{task}/{path}", guard(f"{task}_{name}", handler)) for task in fed(Feed.VIDEO)
          for path, name, handler in (("latest", "latest", latest), ("stream", "stream", stream), ("frame.jpg", "frame", frame))),
        Route("/events", guard("events", events)),
        Route("/v2", guard("v2", server_metadata)),
        Route("/v2/health/live", guard("live", ok, public=True)),
        Route("/v2/health/ready", guard("ready", ok, public=True)),
        Route("/v2/models/stats", guard("model_stats", statistics)),  # before /v2/models/{name}
        # each model's routes, with and without a version (one version is served: "1")
        *(Route(model + tail, guard(name, handler), methods=methods)
          for tail, name, handler, methods in (("", "metadata", metadata, None), ("/ready", "model_ready", ready, None),
                                               ("/infer", "infer", infer, ["POST"]), ("/config", "config", config, None),
                                               ("/stats", "model_stats", statistics, None))
          for model in ("/v2/models/{name}", "/v2/models/{name}/versions/{version}")),
        Route("/v2/repository/index", guard("repository", repository_index), methods=["POST"]),
        Route("/v2/repository/models/{name}/load", guard("repository", load), methods=["POST"]),
        Route("/v2/repository/models/{name}/unload", guard("repository", unload), methods=["POST"]),
        Route("/metrics", guard("metrics", metrics)),
        *(task_route(task, path, handler) for task, path, handler in serve_routes()),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app):
        grpc_server = None
        if options.grpc_port is not None:
            from edgeward.runtime.services.serve.triton_grpc import start

            grpc_server = await start(served, options, options.grpc_port)
            app.state.grpc_port = options.grpc_port
        feeds.start()
        yield
        if grpc_server is not None:
            await grpc_server.stop(5)
        feeds.close()
        for s in served:  # after the requests in flight are answered
            s.batcher.close()

    return Starlette(routes=routes, lifespan=lifespan)


PAGE = Path(__file__).parent / "static" / "index.html"


class TooLarge(Exception):
    """A request body over the limit (413)."""


class BodyTimeout(Exception):
    """A request body that did not arrive within the time allowed (408)."""


log = logging.getLogger("edgeward.serve")


def serve(models: list[str], options: ServeOptions = ServeOptions(), log: Callable[[str], None] = print) -> None:
    """Serve ``models`` until interrupted (SIGINT/SIGTERM finish the requests in flight, then stop)."""
    uvicorn = require("uvicorn", "serve")
    served = load_models(models, options)
    app = build_app(served, options)
    sock = listen(options.host, options.port)  # bound before it says it is serving: a port in use is one line
    port = sock.getsockname()[1]
    for s in served:
        log(f"serving {s.name} ({s.model.manifest.task}, {s.model.manifest.format} {s.model.manifest.precision}) at "
            f"http://{options.host}:{port}/v2/models/{s.name}")
    if options.grpc_port is not None:
        from edgeward.runtime.services.serve.triton_grpc import modules

        modules()  # the grpc extra, or one line naming it, before anything is said to be served
        listen(options.host, options.grpc_port).close()  # a port in use is one line, as for HTTP
        log(f"gRPC (Triton's protocol, tritonclient.grpc) at {options.host}:{options.grpc_port}")
    for line in describe_sources(options):
        log(line)
    # gRPC's asyncio server runs in the HTTP server's loop, and takes only asyncio's own
    loop = "uvloop" if _has("uvloop") and options.grpc_port is None else "asyncio"
    http = "httptools" if _has("httptools") else "h11"
    config = uvicorn.Config(app, host=options.host, port=port, loop=loop, http=http, log_level="warning",
                            timeout_graceful_shutdown=10, access_log=False)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()


def listen(host: str, port: int):
    """A listening socket on ``host:port``, or a one-line DeviceError (the port is taken, the address is not
    this machine's)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family)
        # answers go out as written, a response's headers and body without waiting for the client's ACK; the
        # connections accepted inherit it (asyncio's own loop sets it only on sockets made with IPPROTO_TCP)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    except OSError as exc:
        raise DeviceError(f"--host {host} --port {port}: cannot listen there ({exc.strerror or exc}); another server "
                          "may hold the port: choose another --port") from None


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None

