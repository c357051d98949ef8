"""Operator endpoints, behind their own bearer token (``REPORT_ADMIN_TOKEN``).

Without a token configured they answer 403 to everyone: an admin endpoint that anybody
could call by default would let any client make the service reload in a loop.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status

from indexer.messages import unknown_names
from service.api.bearer import BearerToken, is_secret
from service.api.deps import SettingsDep, StateDep, query_parameters
from service.api.schemas import ErrorResponse, ReloadResponse
from service.reload import ReloadBusy, ReloadRefused

_admin_token = BearerToken("The admin token (REPORT_ADMIN_TOKEN).", scheme_name="AdminToken")


async def require_admin(
    settings: SettingsDep, token: Annotated[str | None, Depends(_admin_token)]
) -> None:
    """403 when admin endpoints are off, 401 unless the bearer token is the configured one."""
    if settings.admin_token is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "admin endpoints are disabled: set REPORT_ADMIN_TOKEN"
        )
    if not is_secret(token, settings.admin_token.get_secret_value()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "the admin token is missing or wrong: send it as Authorization: Bearer <token>",
            headers={"WWW-Authenticate": 'Bearer realm="report-search admin"'},
        )


# What a request that tries to choose the version is told.
_SERVES_CURRENT = (
    "A reload serves the index root's current version: to serve another, run "
    "`report-index rollback VERSION` (`report-index list` shows the versions), then reload"
)


async def refuse_a_body(request: Request) -> None:
    """A 422 for a body with anything in it: the reload takes no options. ``{"version": …}``
    was ignored, and the 200 that followed, naming the version still current, read as if
    that version were refused or served; the version to serve is chosen on the index root,
    where a rollback also checks that the model can serve it. ``{}``, as a client that
    always sends JSON sends it, asks for nothing."""
    body = await request.body()
    try:
        fields = json.loads(body) if body.strip() else {}
    except ValueError:  # not JSON, or sent as another content type
        fields = None
    if fields == {}:
        return
    where = f"{request.method} {request.url.path}"
    refused = (
        unknown_names("field", fields, f"in the JSON body of {where}", ())
        if isinstance(fields, dict)
        else f"{where} takes no body"
    )
    raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{refused}. {_SERVES_CURRENT}")


router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])


@router.post(
    "/reload",
    response_model=ReloadResponse,
    responses={
        401: {"model": ErrorResponse, "description": "The admin token is missing or wrong."},
        403: {"model": ErrorResponse, "description": "No admin token is configured."},
        409: {"model": ErrorResponse, "description": "A reload or the first load is running."},
        422: {
            "model": ErrorResponse,
            "description": "The new version cannot be served, or the request sent options "
            "(it takes none).",
        },
    },
    dependencies=[
        query_parameters(takes=f"it takes none. {_SERVES_CURRENT}"),
        Depends(refuse_a_body),
    ],
)
async def reload(state: StateDep, settings: SettingsDep) -> ReloadResponse:
    """Serve the index root's current version (after `report-index build` or `rollback`).

    The version is loaded and checked beside the one being served, which keeps answering
    and stays if the new one is refused; then new requests go to the new version. Answers
    once the swap is done, with both version ids.
    """
    try:
        reloaded = await state.reload(settings.index_dir)
    except ReloadBusy as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except ReloadRefused as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    return ReloadResponse(
        previous_version=reloaded.previous_version,
        version=reloaded.version,
        passages=reloaded.passages,
    )
