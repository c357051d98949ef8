"""The FastAPI application: routes over the :class:`Searcher`, errors as readable 4xx."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from indexer.settings import Settings, get_settings
from service.api.routes import context, health, passages, search, tools
from service.api.routes.web import mount_web
from service.api.security import guarded_responses, install_security
from service.api.state import ServiceState
from service.engine import SearchEngine
from service.mcp_server import build_mcp_server
from service.searcher import InvalidQueryError, Searcher


def create_app(settings: Settings | None = None, searcher: Searcher | None = None) -> FastAPI:
    """Build the app; with no ``searcher`` it loads one from ``settings`` at start-up."""
    settings = settings or get_settings()
    state = ServiceState(partial(SearchEngine.configured, settings=settings))
    if searcher is not None:
        state.serve(searcher)
    mcp_server = build_mcp_server(state)
    # Only the /mcp route is taken from the SDK's app; its session manager needs the lifespan.
    mcp_routes = mcp_server.streamable_http_app(host=settings.host).routes

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with mcp_server.session_manager.run():
            if state.engine is None:
                state.load_in_background(lambda: Searcher.open(settings))
            yield
            if state.engine is not None:
                await state.engine.close()

    app = FastAPI(
        title="Report search",
        summary="Multilingual semantic search over report text, with sourced passages.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.service = state
    guarded = guarded_responses(settings)  # health stays open: no key, no rate limit
    app.include_router(search.router, responses=guarded)
    app.include_router(health.router)
    app.include_router(context.router, responses=guarded)
    app.include_router(passages.router, responses=guarded)
    app.include_router(tools.router, responses=guarded)
    mount_web(app)  # the search page at / and its files at /static
    app.router.routes.extend(mcp_routes)  # streamable HTTP MCP endpoint at /mcp
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(InvalidQueryError, _invalid_query)  # type: ignore[arg-type]
    install_security(app, settings)  # size, encoding, key, CORS, rate limit (SECURITY.md)
    return app


async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    """One readable sentence per problem, plus the structured list for programs."""
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return JSONResponse(
            status_code=status.HTTP_400_BAD_REQUEST,
            content={"detail": "the request body is not valid JSON"},
        )
    messages = []
    for error in errors:
        # loc starts with where the value came from ("body", "query"): not a field name.
        where = ".".join(str(part) for part in tuple(error.get("loc", ()))[1:])
        messages.append(f"{where or 'request'}: {error.get('msg', 'invalid value')}")
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={"detail": "; ".join(messages), "errors": jsonable_encoder(errors)},
    )


async def _invalid_query(_: Request, exc: InvalidQueryError) -> JSONResponse:
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, content={"detail": str(exc)}
    )
