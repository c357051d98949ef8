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
    """Queues queries and encodes them in batches, ``workers`` encoder calls at a time.

    One worker suits encoders that parallelise inside a call (torch, ONNX fp32 batches);
    an encoder that runs one query per call on one thread (ONNX int8) uses both cores
    only with two calls in flight. With ``max_batch=1`` there is nothing to gather, so
    queries skip the queue and go straight to the encoder threads.
    """

    def __init__(
        self,
        encode: EncodeFn,
        max_batch: int = 16,
        max_wait_ms: float = 1.0,
        workers: int = 1,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self._encode = encode
        self._max_batch = max_batch
        self._max_wait = max_wait_ms / 1000
        self._workers = workers
        self._queue: asyncio.Queue[tuple[str, asyncio.Future[np.ndarray]]] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="encoder")
        self._calls: set[asyncio.Task[None]] = set()
        self.batches = 0
        self.encoded = 0

    async def encode(self, query: str) -> np.ndarray:
        """The query's vector, computed in a batch with other waiting queries."""
        if self._max_batch == 1:  # nothing to gather: straight to a free encoder thread
            loop = asyncio.get_running_loop()
            vectors = await loop.run_in_executor(self._executor, self._encode, [query])
            self.batches += 1
            self.encoded += 1
            return vectors[0]
        if self._queue is None or self._worker is None or self._worker.done():
            self._queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._run(self._queue), name="micro-batcher")
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        await self._queue.put((query, future))
        return await future

    async def close(self) -> None:
        """Stop the worker, its encoder calls and the encoder threads."""
        for task in [self._worker, *self._calls]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _run(self, queue: asyncio.Queue[tuple[str, asyncio.Future[np.ndarray]]]) -> None:
        slots = asyncio.Semaphore(self._workers)
        while True:
            await slots.acquire()
            batch = await self._collect(queue)
            live = [(q, f) for q, f in batch if not f.done()]
            if not live:
                slots.release()
                continue
            call = asyncio.create_task(self._encode_batch(live))
            self._calls.add(call)
            call.add_done_callback(self._calls.discard)
            call.add_done_callback(lambda _: slots.release())

    async def _collect(
        self, queue: asyncio.Queue[tuple[str, asyncio.Future[np.ndarray]]]
    ) -> list[tuple[str, asyncio.Future[np.ndarray]]]:
        """The next batch: what is waiting, or what arrives within ``max_wait_ms``."""
        loop = asyncio.get_running_loop()
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
        return batch

    async def _encode_batch(self, live: list[tuple[str, asyncio.Future[np.ndarray]]]) -> None:
        loop = asyncio.get_running_loop()
        try:
            vectors = await loop.run_in_executor(self._executor, self._encode, [q for q, _ in live])
        except Exception as exc:  # every waiting request gets the failure, not a hang
            for _, future in live:
                if not future.done():
                    future.set_exception(exc)
            return
        self.batches += 1
        self.encoded += len(live)
        for (_, future), vector in zip(live, vectors, strict=True):
            if not future.done():
                future.set_result(vector)
