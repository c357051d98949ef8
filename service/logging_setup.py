"""Log lines of the served process: one JSON object per line, or plain text for people.

``report-search serve`` hands :func:`log_config` to uvicorn, which applies it in every worker
process. Each record carries the ``request_id`` of the request it was logged during (or
``null``), so every line of one request, the access line included, can be found together.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any, Literal

from pythonjsonlogger.core import RESERVED_ATTRS

# Set by the request middleware for the duration of a request (service/api/observability.py);
# tasks and threads started by the request copy it along with the rest of the context.
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)

LogFormat = Literal["json", "text"]


class RequestIdFilter(logging.Filter):
    """Stamp every record with the id of the request it was logged for."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


def log_config(log_format: LogFormat, level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for uvicorn's loggers and the service's own.

    Everything goes to one stderr handler through the root logger; uvicorn's own access log
    is not used (``serve`` turns it off): the service's access line (logger
    ``service.access``) has the route, latency and request id that uvicorn's lacks.
    """
    json_formatter = {
        "()": "pythonjsonlogger.json.JsonFormatter",
        # process: which worker wrote the line, under `serve --workers N`.
        "fmt": "%(levelname)s %(name)s %(process)d %(message)s",
        "rename_fields": {"levelname": "level", "name": "logger"},
        "timestamp": True,
        # uvicorn adds an ANSI-coloured copy of some messages; it is noise in JSON.
        "reserved_attrs": [*RESERVED_ATTRS, "color_message"],
    }
    text_formatter = {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"json": json_formatter, "text": text_formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": log_format,
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            **{
                name: {"handlers": [], "level": level, "propagate": True}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
            },
            # bm25s sets its own logger to DEBUG: one line per keyword index built.
            "bm25s": {"level": "WARNING"},
        },
    }


class _HideQueryStrings(logging.Filter):
    """Cut the query string (the searched text) out of uvicorn's access log lines.

    ``report-search serve`` turns that log off (the app logs requests itself, without query
    strings); this covers the app run by uvicorn directly (``uvicorn --factory
    service.api.app:create_app``), whose access log is on by default."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            path, separator, _ = args[2].partition("?")
            record.args = (*args[:2], path + ("?…" if separator else ""), *args[3:])
        return True


def hide_query_strings(logger: logging.Logger) -> None:
    """Install the access-log filter once, however many apps the process builds."""
    if not any(isinstance(f, _HideQueryStrings) for f in logger.filters):
        logger.addFilter(_HideQueryStrings())
