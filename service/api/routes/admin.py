"""Operator endpoints, behind their own bearer token (``REPORT_ADMIN_TOKEN``).

Without a token configured they answer 403 to everyone: an admin endpoint that anybody
could call by default would let any client make the service reload in a loop.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException, status

from service.api.bearer import BearerToken, is_secret
from service.api.deps import SettingsDep, StateDep, query_parameters
from service.api.schemas import SERVES_CURRENT, ErrorResponse, ReloadRequest, ReloadResponse
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
    dependencies=[query_parameters(takes=f"it takes none. {SERVES_CURRENT}")],
)
async def reload(
    state: StateDep, settings: SettingsDep, _: Annotated[ReloadRequest | None, Body()] = None
) -> ReloadResponse:
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
