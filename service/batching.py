"""Micro-batching: concurrent queries share one encoder call.

A transformer encodes 8 short queries in little more time than one, so under load the
server batches whatever queries are waiting. A lone query is never held back more than
``max_wait_ms``: batches form by themselves while the encoder is busy with the previous one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

EncodeFn = Callable[[list[str]], np.ndarray]


class MicroBatcher:
    """Queues queries and encodes them in batches on one dedicated thread."""

    def __init__(self, encode: EncodeFn, max_batch: int = 16, max_wait_ms: float = 1.0) -> None:
        self._encode = encode
        self._max_batch = max_batch
        self._max_wait = max_wait_ms / 1000
        self._queue: asyncio.Queue[tuple[str, asyncio.Future[np.ndarray]]] | None = None
        self._worker: asyncio.Task[None] | None = None
        # One thread: the encoder parallelises inside a call; two calls would fight for cores.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="encoder")
        self.batches = 0
        self.encoded = 0

    async def encode(self, query: str) -> np.ndarray:
        """The query's vector, computed in a batch with other waiting queries."""
        if self._queue is None or self._worker is None or self._worker.done():
            self._queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._run(self._queue), name="micro-batcher")
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        await self._queue.put((query, future))
        return await future

    async def close(self) -> None:
        """Stop the worker and the encoder thread."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _run(self, queue: asyncio.Queue[tuple[str, asyncio.Future[np.ndarray]]]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await queue.get()]
            deadline = loop.time() + self._max_wait
            while len(batch) < self._max_batch:
                if not queue.empty():
                    batch.append(queue.get_nowait())
                    continue
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(queue.get(), remaining))
                except TimeoutError:
                    break
            live = [(q, f) for q, f in batch if not f.done()]
            if not live:
                continue
            try:
                vectors = await loop.run_in_executor(
                    self._executor, self._encode, [q for q, _ in live]
                )
            except Exception as exc:  # every waiting request gets the failure, not a hang
                for _, future in live:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.batches += 1
            self.encoded += len(live)
            for (_, future), vector in zip(live, vectors, strict=True):
                if not future.done():
                    future.set_result(vector)
