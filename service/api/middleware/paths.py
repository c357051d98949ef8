"""The paths the middleware leaves open, shared by the guards and by the app that serves them."""

from __future__ import annotations

OPEN_PATHS = frozenset(
    {"/", "/healthz", "/readyz", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
)
# The API docs' scripts and styles, served locally (fastapi-offline).
DOCS_ASSETS = "/docs-assets"
OPEN_PREFIXES = ("/static/", f"{DOCS_ASSETS}/")
MCP_PATH = "/mcp"


def is_open(path: str) -> bool:
    """Paths that never need a key nor count against the rate: probes, the page, the docs."""
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)
