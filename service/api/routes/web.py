"""The search page: ``/`` serves ``index.html``; ``/static`` its script and style sheet.

The page's files are plain files in ``service/web/`` (package data, so an installed package
has them too), with no build step and nothing fetched from elsewhere: the page works offline.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

WEB_DIR = Path(__file__).resolve().parents[2] / "web"

router = APIRouter(include_in_schema=False)

# Everything the page loads comes from this service: no CDN, font or script from elsewhere,
# and no inline script, so text from the index can never run as code.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


@router.head("/")
@router.get("/")
def search_page() -> FileResponse:
    """The search page; its state (query and filters) is in the URL, read by ``app.js``."""
    return FileResponse(
        WEB_DIR / "index.html",
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-cache",
        },
    )


def mount_web(app: FastAPI) -> None:
    """Serve the page at ``/`` and its files at ``/static``."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=WEB_DIR, check_dir=True), name="static")
