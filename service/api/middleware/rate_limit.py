"""A request budget per client, so one client cannot keep the model busy for everyone."""

from __future__ import annotations

import ipaddress
import math
import time

from cachetools import LRUCache
from fastapi import status
from starlette.types import ASGIApp, Receive, Scope, Send

from service.api.middleware.documented import DocumentedGuard
from service.api.middleware.paths import is_open
from service.api.middleware.rejection import RequestRejected, reject


class RateLimiter(DocumentedGuard):
    """A token bucket per client IP on protected paths: ``burst`` at once, then
    ``per_minute``. Refusals are 429 with ``Retry-After`` (whole seconds).

    Buckets live in an LRU of ``max_clients``, so a flood of addresses cannot grow memory;
    a client pushed out starts again with a full bucket. Behind a reverse proxy the client
    IP is the proxy's unless uvicorn is told to trust its ``X-Forwarded-For``
    (``--forwarded-allow-ips``).
    """

    def __init__(
        self, app: ASGIApp, per_minute: float, burst: int, max_clients: int = 65536
    ) -> None:
        self.app = app
        self.rate = per_minute / 60.0  # tokens per second
        self.burst = float(burst)
        self._buckets: LRUCache[str, tuple[float, float]] = LRUCache(maxsize=max_clients)

    @staticmethod
    def refusals(path: str, takes_body: bool) -> dict[int, str]:
        """A 429 on every path but the open ones."""
        if is_open(path):
            return {}
        return {status.HTTP_429_TOO_MANY_REQUESTS: "Too many requests; see Retry-After."}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        wait = self.take(_client_key(client[0]) if client else "unknown", time.monotonic())
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        error = RequestRejected(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many requests from this client; retry in {math.ceil(wait)} s",
            headers={"Retry-After": str(math.ceil(wait))},
        )
        await reject(scope, receive, send, error)

    def take(self, client: str, now: float) -> float:
        """Spend one token of ``client``'s bucket: 0 if there was one, else seconds to wait.

        Runs on the event loop without awaiting, so no lock is needed.
        """
        tokens, last = self._buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1:
            self._buckets[client] = (tokens - 1, now)
            return 0.0
        self._buckets[client] = (tokens, now)
        return (1 - tokens) / self.rate


def _client_key(address: str) -> str:
    """Whose bucket a request draws from: an IPv4 address, or an IPv6 client's /64.

    An IPv6 client is usually given a whole /64 and can send each request from a new address
    in it: per address, every request would find a full bucket.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # not an address (a test client, a Unix socket)
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # an IPv4 client seen through a dual-stack socket
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
