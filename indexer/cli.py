"""`report-index`: build the search index offline and provision the embedding model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from indexer.artifact import ArtifactError, read_manifest
from indexer.build import build_index
from indexer.corpus import CorpusError
from indexer.embedding.model import ModelLoadError, resolve_model
from indexer.embedding.onnx_export import OnnxExportError, export_onnx
from indexer.embedding.provision import ModelProvisionError
from indexer.settings import get_settings

app = typer.Typer(help="Build and inspect report search indexes.", no_args_is_help=True)

_USER_ERRORS = (ArtifactError, CorpusError, ModelLoadError, ModelProvisionError, OnnxExportError)


def _fail(exc: Exception) -> typer.Exit:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


@app.command()
def build(
    corpus: Annotated[Path | None, typer.Option(help="Corpus folder (default: settings).")] = None,
    out: Annotated[Path | None, typer.Option(help="Index folder (default: settings).")] = None,
    force: Annotated[bool, typer.Option(help="Rebuild even if the index is current.")] = False,
) -> None:
    """Parse, chunk and embed the corpus into an index folder (skipped when up to date)."""
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
        raise _fail(exc) from exc
    state = "up to date" if report.up_to_date else "built"
    typer.echo(
        f"index {state}: {report.index_dir} — {report.documents} document(s), "
        f"{report.passages} passages, {report.seconds:.1f} s"
    )


@app.command()
def provision() -> None:
    """Make the configured model available offline, with its ONNX query export; print its folder.

    The export (35-90 s and ~3.6 GB once) is done here, offline, so that a service never spends
    its start-up on it; the service still exports on first use if this step was skipped.
    """
    settings = get_settings()
    try:
        model = resolve_model(settings)
        if settings.query_backend != "torch" and model.local_path is not None:
            export_onnx(model.local_path, quantize=settings.query_backend == "onnx-int8")
    except _USER_ERRORS as exc:
        raise _fail(exc) from exc
    typer.echo(model.location)


@app.command()
def show(
    index: Annotated[Path | None, typer.Option(help="Index folder (default: settings).")] = None,
) -> None:
    """Print an index's manifest."""
    folder = index or get_settings().index_dir
    try:
        manifest = read_manifest(folder)
    except ArtifactError as exc:
        raise _fail(exc) from exc
    typer.echo(json.dumps(manifest.to_dict(), ensure_ascii=False, indent=2))
