"""Triton's gRPC protocol beside the HTTP one (``edgeward serve --grpc-port``): what ``tritonclient.grpc`` calls.
Health, server and model metadata, the model configuration, the repository index, statistics, and ``ModelInfer``
with raw or typed tensor contents. The same served models, batchers, checks and documents as the HTTP side: the
messages are built from ``kserve``'s JSON documents, so the two protocols cannot say different things.

The protocol's messages and service come from ``tritonclient``'s generated modules (the ``grpc`` extra: grpcio and
``tritonclient[grpc]``); the server is ``grpc.aio``'s, in the HTTP server's event loop (plain asyncio: gRPC's
asyncio support does not take uvloop)."""

from __future__ import annotations

import hmac
import math

import numpy as np

from edgeward.core.errors import EdgewardError, InputError, require
from edgeward.runtime.services.serve import kserve
from edgeward.runtime.services.serve.batcher import Overloaded
from edgeward.runtime.services.serve.models import find, index, reload_into

# typed contents (a client that does not send raw bytes): the datatype -> the InferTensorContents field
CONTENTS = {"BOOL": "bool_contents", "INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents",
            "INT64": "int64_contents", "UINT8": "uint_contents", "UINT16": "uint_contents", "UINT32": "uint_contents",
            "UINT64": "uint64_contents", "FP32": "fp32_contents", "FP64": "fp64_contents"}


def modules():
    """tritonclient's generated protocol modules (service messages, the servicer, the model configuration)."""
    require("grpc", "grpc")
    require("tritonclient.grpc", "grpc")
    from tritonclient.grpc import model_config_pb2, service_pb2, service_pb2_grpc

    return service_pb2, service_pb2_grpc, model_config_pb2


def tensor(item, raw: bytes | None, where: str, limit: int) -> np.ndarray:
    """One input of a ``ModelInferRequest`` as an array: its declared shape and datatype, checked against the bytes
    (or typed contents) given, its size bounded before anything is allocated."""
    if item.datatype not in kserve.DATATYPES:
        raise InputError(f"{where}.datatype: expected one of {', '.join(kserve.DATATYPES)}, got {item.datatype!r}")
    shape = tuple(int(d) for d in item.shape)
    if any(d < 0 for d in shape):
        raise InputError(f"{where}.shape: expected sizes >= 0, got {list(shape)}")
    dtype = np.dtype(kserve.DATATYPES[item.datatype])
    count = math.prod(shape)
    if count * dtype.itemsize > limit:
        raise InputError(f"{where}: {count:,} values of {item.datatype} exceed the request limit of {limit:,} bytes")
    if raw is not None:
        if len(raw) != count * dtype.itemsize:
            raise InputError(f"{where}: shape {list(shape)} of {item.datatype} needs {count * dtype.itemsize:,} bytes, "
                             f"got {len(raw):,}")
        return np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype).reshape(shape)
    if item.datatype not in CONTENTS:
        raise InputError(f"{where}: {item.datatype} needs raw_input_contents")
    values = getattr(item.contents, CONTENTS[item.datatype])
    if len(values) != count:
        raise InputError(f"{where}: shape {list(shape)} needs {count:,} values, got {len(values):,}")
    return np.asarray(values, dtype=dtype).reshape(shape)


def servicer(served: list, options):
    """The ``GRPCInferenceService`` over ``served`` (the ``Served`` models of the HTTP app, batchers made)."""
    import grpc
    from google.protobuf import json_format

    pb, pb_grpc, config_pb = modules()
    by_name = {s.name: s for s in served}
    limit = int(options.max_body_mb * (1 << 20))

    def message(doc: dict, cls):
        return json_format.ParseDict(doc, cls(), ignore_unknown_fields=True)

    class Service(pb_grpc.GRPCInferenceServiceServicer):
        async def _enter(self, context, name: str | None = None, ready: bool = True):
            """The token, where the server has one; then the model named (an unknown one, or with ``ready`` an
            unloaded one, ends the call)."""
            if options.token:
                given = dict(context.invocation_metadata()).get("authorization", "").removeprefix("Bearer ")
                if not hmac.compare_digest(given.encode(), options.token.encode()):
                    await context.abort(grpc.StatusCode.UNAUTHENTICATED, "expected the metadata authorization: Bearer TOKEN")
            if name is None:
                return None
            try:
                return find(by_name, name, ready)
            except InputError as exc:
                await context.abort(grpc.StatusCode.NOT_FOUND if name not in by_name else grpc.StatusCode.UNAVAILABLE,
                                    str(exc))

        async def ServerLive(self, request, context):
            return pb.ServerLiveResponse(live=True)

        async def ServerReady(self, request, context):
            return pb.ServerReadyResponse(ready=True)

        async def ModelReady(self, request, context):
            await self._enter(context)
            return pb.ModelReadyResponse(ready=request.name in by_name and by_name[request.name].ready)

        async def ServerMetadata(self, request, context):
            import edgeward

            await self._enter(context)
            return pb.ServerMetadataResponse(name="edgeward", version=edgeward.__version__, extensions=kserve.EXTENSIONS)

        async def ModelMetadata(self, request, context):
            s = await self._enter(context, request.name)
            return message(kserve.model_metadata(s.name, s.model), pb.ModelMetadataResponse)

        async def ModelConfig(self, request, context):
            s = await self._enter(context, request.name)
            return pb.ModelConfigResponse(config=message(kserve.model_config(s.name, s.model, s.max_batch_size),
                                                         config_pb.ModelConfig))

        async def RepositoryIndex(self, request, context):
            await self._enter(context)
            return message({"models": index(served)}, pb.RepositoryIndexResponse)

        async def RepositoryModelLoad(self, request, context):
            import asyncio

            s = await self._enter(context, request.model_name, ready=False)
            try:
                await asyncio.get_running_loop().run_in_executor(None, reload_into, s, options)
            except EdgewardError as exc:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            return pb.RepositoryModelLoadResponse()

        async def RepositoryModelUnload(self, request, context):
            s = await self._enter(context, request.model_name, ready=False)
            s.ready = False
            return pb.RepositoryModelUnloadResponse()

        async def ModelStatistics(self, request, context):
            await self._enter(context)
            chosen = [await self._enter(context, request.name, ready=False)] if request.name else served
            return message({"model_stats": [kserve.model_statistics(s.name, s.stats, s.batcher) for s in chosen]},
                           pb.ModelStatisticsResponse)

        async def ModelInfer(self, request, context):
            import time

            s = await self._enter(context, request.model_name)
            started, rows, answered = time.perf_counter_ns(), 0, False
            try:
                raws = list(request.raw_input_contents)
                if raws and len(raws) != len(request.inputs):
                    raise InputError(f"raw_input_contents: expected one per input ({len(request.inputs)}), got {len(raws)}")
                inputs = {}
                for i, item in enumerate(request.inputs):
                    if item.name in inputs:
                        raise InputError(f"inputs[{i}].name: {item.name!r} is given twice")
                    inputs[item.name] = tensor(item, raws[i] if raws else None, f"inputs[{i}]", limit)
                kserve.check_batch_size(s.name, inputs, s.max_batch_size)
                feeds = s.model.check(inputs)
                outputs = await s.batcher.submit(feeds)
                wanted = [o.name for o in request.outputs] or list(outputs)
                unknown = [n for n in wanted if n not in outputs]
                if unknown:
                    raise InputError(f"outputs: {unknown[0]!r} is not an output of {s.name!r} (its outputs: "
                                     f"{', '.join(outputs)})")
                reply = pb.ModelInferResponse(model_name=s.name, model_version="1", id=request.id)
                for name in wanted:
                    value = np.ascontiguousarray(outputs[name])
                    reply.outputs.add(name=name, datatype=kserve.datatype(value.dtype), shape=list(value.shape))
                    reply.raw_output_contents.append(value.astype(value.dtype.newbyteorder("<")).tobytes())
                rows, answered = len(next(iter(feeds.values()))), True
                return reply
            except Overloaded as exc:
                await context.abort(grpc.StatusCode.UNAVAILABLE, f"busy: {exc}; retry later")
            except EdgewardError as exc:
                code = grpc.StatusCode.INVALID_ARGUMENT if isinstance(exc, InputError) else grpc.StatusCode.INTERNAL
                await context.abort(code, str(exc))
            finally:
                s.stats.add(answered, time.perf_counter_ns() - started, rows)

    return Service()


async def start(served: list, options, port: int):
    """The gRPC server on ``options.host:port``, started in the running event loop; ``await server.stop(grace)``
    ends it."""
    import grpc

    _, pb_grpc, _ = modules()
    limit = int(options.max_body_mb * (1 << 20))
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", limit),
                                      ("grpc.max_send_message_length", max(limit, 64 << 20))])
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(servicer(served, options), server)
    host = f"[{options.host}]" if ":" in options.host else options.host
    if server.add_insecure_port(f"{host}:{port}") == 0:
        raise InputError(f"--grpc-port {port}: cannot listen there; another server may hold the port")
    await server.start()
    return server
