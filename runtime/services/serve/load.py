"""A bounded load generator for ``edgeward serve``: ``clients`` keep-alive connections (or concurrent gRPC calls),
each sending its next request as soon as the last is answered, for ``seconds``; requests per second, latency
percentiles and errors.

It speaks just enough HTTP/1.1 (a POST with Content-Length, a response with Content-Length) to stay cheap: on a
small machine the client shares the CPU with the server it measures.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LoadResult:
    clients: int
    seconds: float
    requests: int
    errors: int  # non-2xx answers and broken connections
    statuses: dict[int, int]
    p50_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


async def _client(host: str, port: int, request: bytes, until: float, latencies: list, statuses: dict) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    loop = asyncio.get_running_loop()
    try:
        while loop.time() < until:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1
    except (ConnectionError, asyncio.IncompleteReadError):
        statuses[0] = statuses.get(0, 0) + 1
    finally:
        writer.close()


def post(path: str, body: bytes, host: str, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json", f"Content-Length: {len(body)}",
             *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def run_load(host: str, port: int, request: bytes, clients: int, seconds: float) -> LoadResult:
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def main() -> float:
        until = asyncio.get_running_loop().time() + seconds
        started = time.perf_counter()
        await asyncio.gather(*(_client(host, port, request, until, latencies, statuses) for _ in range(clients)))
        return time.perf_counter() - started

    elapsed = asyncio.run(main())
    return _result(clients, elapsed, latencies, statuses)


def kserve_infer(model: str, inputs: dict[str, np.ndarray], host: str) -> bytes:
    """A KServe v2 ``infer`` request over HTTP with binary tensors (``tritonclient.http``'s default form)."""
    import json

    header = json.dumps({"inputs": [{"name": k, "datatype": "FP32", "shape": list(v.shape),
                                     "parameters": {"binary_data_size": v.nbytes}} for k, v in inputs.items()],
                         "parameters": {"binary_data_output": True}}).encode()
    body = header + b"".join(np.ascontiguousarray(v, np.float32).tobytes() for v in inputs.values())
    return post(f"/v2/models/{model}/infer", body, host, {"Inference-Header-Content-Length": str(len(header))})


def run_grpc_load(host: str, port: int, model: str, inputs: dict[str, np.ndarray], clients: int,
                  seconds: float) -> LoadResult:
    """The same load over Triton's gRPC protocol: ``clients`` concurrent ``ModelInfer`` calls on one channel (raw
    tensor contents, as ``tritonclient.grpc`` sends them), each sent as soon as the last is answered."""
    import grpc
    from tritonclient.grpc import service_pb2, service_pb2_grpc

    request = service_pb2.ModelInferRequest(model_name=model)
    for name, value in inputs.items():
        request.inputs.add(name=name, datatype="FP32", shape=list(value.shape))
        request.raw_input_contents.append(np.ascontiguousarray(value, np.float32).tobytes())
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def client(stub, until: float) -> None:
        loop = asyncio.get_running_loop()
        while loop.time() < until:
            started = time.perf_counter()
            try:
                await stub.ModelInfer(request)
                code = 200
            except grpc.aio.AioRpcError as exc:
                code = 500 + exc.code().value[0]  # an error, kept apart by gRPC status
            latencies.append(time.perf_counter() - started)
            statuses[code] = statuses.get(code, 0) + 1

    async def main() -> float:
        async with grpc.aio.insecure_channel(f"{host}:{port}") as channel:
            stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
            until = asyncio.get_running_loop().time() + seconds
            started = time.perf_counter()
            await asyncio.gather(*(client(stub, until) for _ in range(clients)))
            return time.perf_counter() - started

    elapsed = asyncio.run(main())
    return _result(clients, elapsed, latencies, statuses)


def _result(clients: int, elapsed: float, latencies: list[float], statuses: dict[int, int]) -> LoadResult:
    ms = np.asarray(latencies) * 1000 if latencies else np.zeros(1)
    errors = sum(n for s, n in statuses.items() if not 200 <= s < 300)
    return LoadResult(clients, elapsed, len(latencies), errors, dict(sorted(statuses.items())),
                      float(np.percentile(ms, 50)), float(np.percentile(ms, 99)))


def watch_mjpeg(host: str, port: int, path: str, viewers: int, seconds: float) -> list[float]:
    """Frames per second that each of ``viewers`` concurrent clients of an MJPEG stream receives."""

    async def viewer() -> float:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        await reader.readuntil(b"\r\n\r\n")
        loop = asyncio.get_running_loop()
        frames, started = 0, loop.time()
        buffer = b""
        while loop.time() - started < seconds:
            buffer = buffer[-8:] + await reader.read(65536)  # a boundary cut in two is counted once
            frames += buffer.count(b"--frame\r\n")
        writer.close()
        return frames / (loop.time() - started)

    async def main() -> list[float]:
        return list(await asyncio.gather(*(viewer() for _ in range(viewers))))

    return asyncio.run(main())
