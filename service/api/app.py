"""The FastAPI application put together: routes over the :class:`Searcher`, MCP, middleware
and error handlers; and the app of one worker process."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI, status
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from mcp.server.transport_security import TransportSecuritySettings
from starlette.middleware.gzip import GZipMiddleware
from tqdm import tqdm

from indexer.settings import Settings, get_settings
from service.api.errors import install_error_handlers
from service.api.mcp_endpoint import checked_mcp_routes
from service.api.middleware import configured_guards, install_security
from service.api.middleware.head import HeadAsGet
from service.api.middleware.paths import DOCS_ASSETS, MCP_PATH
from service.api.middleware.relative_redirects import RelativeRedirects
from service.api.observability import RequestObserver
from service.api.openapi import describe_guards
from service.api.routes import (
    admin,
    context,
    documents,
    health,
    metrics,
    passages,
    search,
    tools,
)
from service.api.routes.web import mount_web
from service.api.sighup import reload_on_sighup
from service.engine import SearchEngine
from service.logging_setup import hide_query_strings
from service.mcp_server import build_mcp_server
from service.searcher import Searcher
from service.state import ServiceState


def create_app(
    settings: Settings | None = None,
    searcher: Searcher | None = None,
    *,
    wait_until_loaded: bool = False,
) -> FastAPI:
    """Build the app; with no ``searcher`` it loads one from ``settings`` at start-up.

    The load runs in the background so that the process answers at once (``/readyz`` says
    it is loading), unless ``wait_until_loaded``: then start-up ends, and uvicorn accepts
    connections, only once it is done.
    """
    settings = settings or get_settings()
    state = ServiceState(partial(SearchEngine.configured, settings=settings))
    if searcher is not None:
        state.serve(searcher)
    mcp_server = build_mcp_server(state)
    # Only the /mcp route is taken from the SDK's app; its session manager needs the lifespan.
    # Stateless, with plain JSON answers: every call stands alone, so MCP works across
    # `--workers N` and replicas behind a load balancer (a session lives in one process:
    # with two workers every session failed, "Session not found", on the other one).
    sdk_routes = mcp_server.streamable_http_app(
        host=settings.host,
        transport_security=_mcp_transport_security(settings),
        stateless_http=True,
        json_response=True,
    ).routes

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with mcp_server.session_manager.run():
            # The handler goes in before the load: a SIGHUP that arrives while a worker is
            # still loading would otherwise end the process (SIGHUP's default action).
            with reload_on_sighup(state, settings.index_dir):
                if state.engine is None:
                    state.load_in_background(lambda: _open_warm(settings))
                    if wait_until_loaded:
                        await asyncio.to_thread(state.wait)
                yield
            if state.engine is not None:
                await state.engine.close()

    app = FastAPIOffline(
        static_url=DOCS_ASSETS,
        title="Report search",
        summary="Multilingual semantic search over report text, with sourced passages.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.service = state
    app.state.settings = settings
    for routes in (search, health, context, passages, documents, tools, metrics, admin):
        app.include_router(routes.router)
    mount_web(app)  # the search page at / and its files at /static

    @app.get(MCP_PATH, include_in_schema=False)
    async def mcp_event_stream() -> JSONResponse:
        """No server-initiated messages without sessions: a GET stream would stay open, idle,
        for ever (the protocol lets a server answer 405)."""
        return JSONResponse(
            {"detail": "this MCP endpoint is stateless: POST each message"},
            status_code=status.HTTP_405_METHOD_NOT_ALLOWED,
            headers={"Allow": "POST"},
        )

    # Streamable HTTP MCP at /mcp, its Host and Origin checked as the SDK's transport checks them.
    mcp = checked_mcp_routes(sdk_routes, mcp_server.session_manager.security_settings)
    app.router.routes.extend(mcp.routes)
    install_error_handlers(app)  # readable 4xx and 503 (a bug's 500: the middleware's)
    guards = configured_guards(settings, own_json_paths=mcp.paths)
    install_security(app, settings, guards)  # size, encoding, key, rate, 500s, CORS (SECURITY.md)
    describe_guards(app, guards)  # ...and the API docs say so
    if not settings.log_query_text:
        hide_query_strings(logging.getLogger("uvicorn.access"))
    # Compressed for clients that accept it: a result of 50 passages is 91 KB of JSON, 20 KB
    # compressed. Level 6 (zlib's default): 9 costs more for little less.
    app.add_middleware(GZipMiddleware, minimum_size=_COMPRESS_FROM_BYTES, compresslevel=6)
    # HEAD wherever GET, as GET's answer without its body: compressed first, so that its
    # headers are GET's (Content-Encoding, Content-Length).
    app.add_middleware(HeadAsGet)
    app.add_middleware(RelativeRedirects)  # the trailing-slash redirect named the Host sent
    # Outermost: request id, metrics and access line for every request, refusals included.
    app.add_middleware(RequestObserver, log_query_text=settings.log_query_text)
    return app


# Smaller answers (a health probe, most errors) gain less than a gzip header costs to read.
_COMPRESS_FROM_BYTES = 1024


def _mcp_transport_security(settings: Settings) -> TransportSecuritySettings | None:
    """The MCP SDK's DNS-rebinding guard for a server bound to localhost, as the SDK sets it
    up by default, with the browser origins allowed by ``REPORT_CORS_ORIGINS`` added: the
    guard refuses every other ``Origin``, so CORS alone would not let those pages use /mcp.
    Bound elsewhere, the SDK applies no guard; the CORS allow-list then decides."""
    if settings.host not in ("127.0.0.1", "localhost", "::1"):
        return None
    if "*" in settings.cors_origins:
        # Any page may call the API already; the guard would refuse all but localhost's.
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
        allowed_origins=[
            "http://127.0.0.1:*",
            "http://localhost:*",
            "http://[::1]:*",
            *settings.cors_origins,
        ],
    )


def _open_warm(settings: Settings) -> Searcher:
    searcher = Searcher.open(settings)
    searcher.warm_up()
    return searcher


def create_worker_app() -> FastAPI:
    """The app of one of several uvicorn worker processes (``report-search serve --workers``).

    Built from the environment's settings, it takes connections only once its model and
    index are loaded: meanwhile the other workers answer, so neither the start nor uvicorn's
    worker-by-worker restart on SIGHUP sends a request to a worker that cannot search.
    """
    # tqdm (bm25s's progress bars, never shown here) locks with a multiprocessing semaphore,
    # which a worker never unlinks: uvicorn ends it with the signal it stopped for, and the
    # resource tracker then reports a leak at shutdown. A thread lock is all one process needs.
    tqdm.set_lock(threading.RLock())
    return create_app(wait_until_loaded=True)
