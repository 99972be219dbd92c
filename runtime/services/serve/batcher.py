"""Dynamic batching, as Triton's dynamic batcher does it: requests that arrive within ``max_delay`` of each other
are run as one model call of at most ``max_batch`` rows, and each gets its own rows back. The wait ends early
when a short slice brings no new request, so a lone client is not held for the whole delay. The queue is bounded:
a request that would take it beyond ``max_queue`` rows is refused (``Overloaded``, a 503) instead of waiting
without limit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

Feeds = dict[str, np.ndarray]
SLICE = 0.0003  # seconds: how often the batcher looks whether more requests joined


class Overloaded(Exception):
    """The queue is full: the caller answers 503 and the client retries later."""


class DynamicBatcher:
    def __init__(self, run: Callable[[Feeds], dict[str, np.ndarray]], max_batch: int, max_delay_s: float, max_queue: int,
                 observe: Callable[[int], None] = lambda rows: None):
        self._run, self.max_batch, self.max_delay, self.max_queue = run, max_batch, max_delay_s, max_queue
        self._observe = observe  # called with each batch's rows (metrics)
        self._pending: list[tuple[Feeds, int, asyncio.Future]] = []
        self.queued = 0  # rows waiting
        # Triton's statistics: model calls, their time, and the time requests waited for them (nanoseconds)
        self.executions, self.infer_ns, self.queue_ns = 0, 0, 0
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        # one model call at a time, off the event loop (onnxruntime and LiteRT release the GIL while they run)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="edgeward-model")

    async def submit(self, feeds: Feeds) -> dict[str, np.ndarray]:
        rows = len(next(iter(feeds.values())))
        if self.queued + rows > self.max_queue:
            raise Overloaded(f"{self.queued} rows queued, {rows} more would exceed the limit of {self.max_queue}")
        if self._task is None:
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._loop())
        future = asyncio.get_running_loop().create_future()
        future.queued_at = time.perf_counter_ns()
        self._pending.append((feeds, rows, future))
        self.queued += rows
        self._wake.set()
        return await future

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            if self.max_batch > 1 and self.max_delay > 0:
                # give others time to join, up to the delay or a full batch; stop as soon as a slice of the delay
                # brings no one (a lone client then waits one slice, not the whole delay)
                deadline = loop.time() + self.max_delay
                while self.queued < self.max_batch and loop.time() < deadline:
                    before = self.queued
                    await asyncio.sleep(min(SLICE, max(0.0, deadline - loop.time())))
                    if self.queued == before:
                        break
            batch, rows = self._take()
            if not self._pending:
                self._wake.clear()
            if batch:
                await self._call(loop, batch, rows)

    def _take(self) -> tuple[list, int]:
        """Requests from the front of the queue of one input signature, up to ``max_batch`` rows (a larger
        request alone)."""
        batch, rows = [], 0
        first = self._pending[0][0] if self._pending else None
        signature = {k: (v.dtype, v.shape[1:]) for k, v in first.items()} if first else None
        while self._pending:
            feeds, n, _ = self._pending[0]
            if batch and (rows + n > self.max_batch or {k: (v.dtype, v.shape[1:]) for k, v in feeds.items()} != signature):
                break
            batch.append(self._pending.pop(0))
            rows += n
        self.queued -= rows
        return batch, rows

    async def _call(self, loop, batch: list, rows: int) -> None:
        feeds = batch[0][0] if len(batch) == 1 else {k: np.concatenate([b[0][k] for b in batch]) for k in batch[0][0]}
        started = time.perf_counter_ns()
        self.queue_ns += sum(started - future.queued_at for _, _, future in batch)
        try:
            outs = await loop.run_in_executor(self._pool, self._run, feeds)
        except Exception as exc:  # the model's own error (a bad tensor): each request of the batch gets it
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        self.executions += 1
        self.infer_ns += time.perf_counter_ns() - started
        self._observe(rows)
        start = 0
        for _, n, future in batch:
            if not future.done():
                future.set_result({k: v[start:start + n] for k, v in outs.items()})
            start += n

    def after_calls(self, fn: Callable[[], None]) -> None:
        """``fn`` run once the model call in progress (if any) has ended: the model thread runs one thing at a time."""
        self._pool.submit(fn)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._pool.shutdown(wait=True)
