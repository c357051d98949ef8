"""How both command-line tools report a user's mistake: one red line and exit code 1.

A traceback is for bugs; a missing folder, a bad setting or an unknown model is the user's to
fix, and the message says what to fix.
"""

from __future__ import annotations

import typer

from indexer.settings import SettingsError, get_settings


def fail(exc: Exception) -> typer.Exit:
    """Print ``exc`` as an error line; raise the result to stop with exit code 1."""
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


def require_valid_settings() -> None:
    """A Typer callback: read the settings before any command, so a bad one stops it at once."""
    try:
        get_settings()
    except SettingsError as exc:
        raise fail(exc) from exc
