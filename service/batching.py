"""Micro-batching: concurrent queries share one encoder call.

A transformer encodes 8 short queries in little more time than one, so under load the
server batches whatever queries are waiting. A lone query is never held back more than
``max_wait_ms``: batches form by themselves while the encoder is busy with the previous one.
Encoders that gain nothing from a batch (ONNX int8) are called one query at a time on
``workers`` threads instead, through :meth:`MicroBatcher.run`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

import numpy as np

EncodeFn = Callable[[list[str]], np.ndarray]
T = TypeVar("T")
# Called in the encoder thread just before the call that encodes the query (see ``encode``).
StartHook = Callable[[], None]
# A request's texts (its query, and the query without the reports' common words if it has
# one), the future of their vectors, and its start hook.
_Waiting = tuple[tuple[str, ...], "asyncio.Future[np.ndarray]", StartHook | None]


class MicroBatcher:
    """Queues queries and encodes them in batches, ``workers`` encoder calls at a time.

    One worker suits encoders that parallelise inside a call (torch, ONNX fp32 batches);
    an encoder that runs one query per call on one thread (ONNX int8) uses both cores
    only with two calls in flight. With ``max_batch=1`` there is nothing to gather: such
    an encoder is better called through :meth:`run`, straight from an encoder thread.
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
        self._queue: asyncio.Queue[_Waiting] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="encoder")
        self._calls: set[asyncio.Task[None]] = set()

    async def encode(self, texts: Sequence[str], on_start: StartHook | None = None) -> np.ndarray:
        """Vectors of one request's ``texts`` (a row each), computed in a batch with other
        waiting requests' texts.

        A request's texts go into one batch together: queued one by one, a query and its
        second text could fall in two batches, and the request waited for both calls.

        ``on_start`` runs in the encoder thread right before the encoder call. Why: Python
        work meant to overlap the encoder (reading the query's words) must not start first.
        Started alongside, it took the GIL first and the encoder thread waited for it
        (~3.5 ms, as long as that work) before it could reach the model, which releases the
        GIL; started from the encoder thread, it runs while the model computes.
        """
        if not texts:
            raise ValueError("no text to encode")
        if self._queue is None or self._worker is None or self._worker.done():
            self._queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._run(self._queue), name="micro-batcher")
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        await self._queue.put((tuple(texts), future, on_start))
        return await future

    @property
    def workers(self) -> int:
        """Encoder calls in flight at most (one per encoder thread)."""
        return self._workers

    @property
    def gathers(self) -> bool:
        """Whether queries are gathered into batches, rather than encoded one per call."""
        return self._max_batch > 1

    async def run(self, job: Callable[[EncodeFn], T]) -> T:
        """``job(encode)`` on a free encoder thread, for an encoder called one query at a time.

        Why: the caller can then do all of a query's work in the thread that encodes it,
        with one hop from the event loop instead of one per step (SearchEngine says what it
        gains).
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, job, self._encode)

    async def close(self) -> None:
        """Stop the worker, its encoder calls and the encoder threads."""
        for task in [self._worker, *self._calls]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _call(self, texts: list[str], hooks: list[StartHook | None]) -> np.ndarray:
        for hook in hooks:
            if hook is not None:
                hook()
        return self._encode(texts)

    async def _run(self, queue: asyncio.Queue[_Waiting]) -> None:
        slots = asyncio.Semaphore(self._workers)
        while True:
            await slots.acquire()
            batch = await self._collect(queue)
            live = [waiting for waiting in batch if not waiting[1].done()]
            if not live:
                slots.release()
                continue
            call = asyncio.create_task(self._encode_batch(live))
            self._calls.add(call)
            call.add_done_callback(self._calls.discard)
            call.add_done_callback(lambda _: slots.release())

    async def _collect(self, queue: asyncio.Queue[_Waiting]) -> list[_Waiting]:
        """The next batch: what is waiting, or what arrives within ``max_wait_ms``, up to
        ``max_batch`` texts (more when a request alone has more)."""
        loop = asyncio.get_running_loop()
        batch = [await queue.get()]
        size = len(batch[0][0])
        deadline = loop.time() + self._max_wait
        while size < self._max_batch:
            if queue.empty():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    waiting = await asyncio.wait_for(queue.get(), remaining)
                except TimeoutError:
                    break
            else:
                waiting = queue.get_nowait()
            batch.append(waiting)
            size += len(waiting[0])
        return batch

    async def _encode_batch(self, live: list[_Waiting]) -> None:
        loop = asyncio.get_running_loop()
        texts = [text for request, _, _ in live for text in request]
        call = partial(self._call, texts, [hook for _, _, hook in live])
        try:
            vectors = await loop.run_in_executor(self._executor, call)
            if len(vectors) != len(texts):  # else requests would get each other's rows
                raise RuntimeError(f"the encoder gave {len(vectors)} vectors to {len(texts)} texts")
            ends = np.cumsum([len(request) for request, _, _ in live])
            rows = np.split(vectors, ends[:-1])
        except Exception as exc:  # every waiting request gets the failure, not a hang
            for _, future, _ in live:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future, _), own in zip(live, rows, strict=True):
            if not future.done():
                future.set_result(own)
