"""Incremental builds: the embedding cache, what a build embeds, and what it reports."""

from __future__ import annotations

import dataclasses
import errno
import logging
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from indexer import build, embedding_cache, passage_vectors
from indexer.artifact import load_index
from indexer.build import build_index
from indexer.cli import app as index_app
from indexer.corpus import load_corpus
from indexer.embedding.encoder import Encoder
from indexer.embedding.model import LOCAL_FOLDER, resolve_model
from indexer.embedding_cache import read_cache, text_key, write_cache
from indexer.passage_vectors import (
    SENTENCE_MAX_WORDS,
    SENTENCE_MIN_WORDS,
    embedding_text,
    passages_for,
)
from indexer.settings import Settings, get_settings
from indexer.sources import article_urls, headline
from indexer.text import sentence_spans

PIRACY = """\
RAPPORT SUR LA PIRATERIE MARITIME

Les navires marchands ont subi de nombreuses attaques dans le golfe de Guinée. Les marines
de la région ont partagé leurs informations avec INTERPOL. Des équipages ont été libérés
après des semaines de captivité.
https://www.interpol.int/fr/Actualites/Piraterie

LA TRAITE DES ÊTRES HUMAINS

Des réseaux criminels exploitent des migrants sur les chantiers et dans les champs. Une
opération menée dans douze pays a permis de secourir plus de deux cents victimes. Les
enquêteurs ont saisi des documents falsifiés.
https://www.interpol.int/fr/Actualites/Traite
"""

WILDLIFE = """\
LE TRAFIC D'ESPÈCES SAUVAGES

Des douaniers ont intercepté des cargaisons d'ivoire et d'écailles de pangolin dans trois
ports. Les trafiquants utilisaient des sociétés écrans pour blanchir leurs profits.
https://www.interpol.int/fr/Actualites/Thunder
"""


class RecordingEncoder:
    """The real encoder, loaded once for the module, recording every text a build asks for."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self.asked: list[tuple[str, str]] = []

    def encode_prompted(
        self, items: list[tuple[str, str]], show_progress: bool = False
    ) -> np.ndarray:
        self.asked.extend(items)
        return self.encoder.encode_prompted(items, show_progress)


@pytest.fixture(scope="module")
def real_encoder(settings) -> Encoder:
    return Encoder(resolve_model(settings), batch_size=settings.batch_size)


@pytest.fixture
def encoder(real_encoder, monkeypatch) -> RecordingEncoder:
    recording = RecordingEncoder(real_encoder)
    monkeypatch.setattr(build, "Encoder", lambda *_args, **_kwargs: recording)
    return recording


def _corpus(folder: Path, **documents: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path in folder.glob("*.txt"):
        path.unlink()
    for name, text in documents.items():
        (folder / f"{name}.txt").write_text(text, "utf-8")
    return folder


def _texts(corpus: Path) -> set[tuple[str, str]]:
    """Every distinct (prompt, text) a full build of ``corpus`` embeds: passages and their
    sentences with the passage prompt, and the sentences again with the query prompt (a
    corpus this small has fewer sentences than ``PSEUDO_QUERIES``, so all of them), as are
    the headlines of the articles its pages cite."""
    documents = load_corpus(corpus)
    titles = {d.id: d.metadata.title for d in documents}
    passages = passages_for(documents)
    sentences = {
        p.body[a:b]
        for p in passages
        for a, b in sentence_spans(p.body, SENTENCE_MAX_WORDS, SENTENCE_MIN_WORDS)
    }
    identity = resolve_model(Settings()).identity
    return (
        {(identity.passage_prompt, embedding_text(p, titles[p.document])) for p in passages}
        | {(identity.passage_prompt, sentence) for sentence in sentences}
        | {(identity.query_prompt, sentence) for sentence in sentences}
        | {(identity.query_prompt, headline(url)) for url in article_urls(passages)}
    )


def test_adding_a_document_embeds_only_its_texts(settings, encoder, tmp_path):
    corpus, root = _corpus(tmp_path / "corpus", piracy=PIRACY), tmp_path / "index"
    first = build_index(settings, corpus, root)
    assert set(encoder.asked) == _texts(corpus) and first.embedded == len(encoder.asked)
    before = _texts(corpus)

    encoder.asked.clear()
    _corpus(corpus, piracy=PIRACY, wildlife=WILDLIFE)
    report = build_index(settings, corpus, root)
    assert sorted(encoder.asked) == sorted(_texts(corpus) - before)
    assert (report.embedded, report.cached) == (len(encoder.asked), len(before))
    changes = report.changes
    assert changes.documents_added == ("wildlife",)
    assert changes.documents_unchanged == ("piracy",)
    assert changes.documents_removed == changes.documents_changed == ()
    assert changes.passages_unchanged == first.passages
    assert changes.passages_added == report.passages - first.passages > 0
    assert {p.document for p in load_index(root).passages} == {"piracy", "wildlife"}


def test_edited_document_embeds_only_changed_texts(settings, encoder, tmp_path):
    corpus, root = _corpus(tmp_path / "corpus", piracy=PIRACY), tmp_path / "index"
    build_index(settings, corpus, root)
    before = _texts(corpus)
    encoder.asked.clear()
    edited = PIRACY.replace("dans douze pays", "dans quinze pays")
    _corpus(corpus, piracy=edited)
    report = build_index(settings, corpus, root)
    assert 0 < len(encoder.asked) < len(before)
    assert sorted(encoder.asked) == sorted(_texts(corpus) - before)
    assert report.changes.documents_changed == ("piracy",)
    assert report.changes.passages_added == report.changes.passages_removed == 1


def test_a_report_renamed_to_another_suffix_is_read_again(settings, encoder, tmp_path):
    """From an operator's review: "r.txt" renamed "r.md" is read otherwise (front matter
    dropped), yet with the same bytes the build called the index up to date, and it went on
    serving the front matter as text."""
    front = "---\ntitle: Rapport\nauthor: Bureau de presse\n---\n\n"
    corpus, root = _corpus(tmp_path / "corpus", piracy=front + PIRACY), tmp_path / "index"
    build_index(settings, corpus, root)
    assert any("Bureau de presse" in p.text for p in load_index(root).passages)
    (corpus / "piracy.txt").rename(corpus / "piracy.md")
    report = build_index(settings, corpus, root)
    assert not report.up_to_date and report.changes.documents_changed == ("piracy",)
    assert not any("Bureau de presse" in p.text for p in load_index(root).passages)


def test_a_cache_that_cannot_be_written_stops_the_build_before_it_embeds(
    settings, encoder, tmp_path, monkeypatch
):
    """From an operator's review: a read-only embedding cache failed the build only when it
    saved, after every text had been embedded, with a bare "[Errno 13] …: '….lock'"."""
    from indexer import durable

    real_lock = durable.exclusive_lock

    def read_only_cache(path, wait=True):
        if path.parent.name == embedding_cache.CACHE_DIR:
            raise PermissionError(13, "Permission denied", str(path))
        return real_lock(path, wait)

    monkeypatch.setattr(durable, "exclusive_lock", read_only_cache)
    corpus, root = _corpus(tmp_path / "corpus", piracy=PIRACY), tmp_path / "index"
    folder = root / embedding_cache.CACHE_DIR
    with pytest.raises(
        embedding_cache.CacheWriteError, match=f"cannot write the embedding cache {folder}: Perm"
    ):
        build_index(settings, corpus, root)
    assert encoder.asked == []
    assert not list((root / "versions").glob("v*"))


def test_rebuilds_with_every_text_cached_load_no_model(settings, encoder, tmp_path, monkeypatch):
    corpus, root = _corpus(tmp_path / "corpus", piracy=PIRACY), tmp_path / "index"
    build_index(settings, corpus, root)
    monkeypatch.setattr(build, "Encoder", _refuse)
    assert build_index(settings, corpus, root).up_to_date
    # A forced rebuild, or a pipeline change that leaves every text as it was.
    forced = build_index(settings, corpus, root, force=True)
    monkeypatch.setattr(build, "pipeline_version", lambda: "another pipeline")
    changed = build_index(settings, corpus, root)
    for report in forced, changed:
        assert not report.up_to_date
        assert (report.embedded, report.cached) == (0, len(_texts(corpus)))
    assert load_index(root).manifest.pipeline_version == "another pipeline"


def _refuse(*_args, **_kwargs):
    raise AssertionError("the build loaded the model")


def test_removing_a_document_drops_its_passages_and_keeps_its_cached_texts_a_while(
    settings, encoder, tmp_path, monkeypatch
):
    corpus = _corpus(tmp_path / "corpus", piracy=PIRACY, wildlife=WILDLIFE)
    root = tmp_path / "index"
    both = build_index(settings, corpus, root)
    _corpus(corpus, piracy=PIRACY)
    monkeypatch.setattr(build, "Encoder", _refuse)  # what remains is all cached
    result = CliRunner().invoke(index_app, ["build", "--corpus", str(corpus), "--out", str(root)])
    assert result.exit_code == 0, result.output
    passages = load_index(root).passages
    assert {p.document for p in passages} == {"piracy"} and len(passages) < both.passages
    kept = len(_texts(corpus))
    assert "documents: 0 added, 1 (wildlife) removed, 0 changed, 1 unchanged" in result.output
    assert f"passages: 0 added, {both.passages - len(passages)} removed, " in result.output
    assert f"texts embedded: 0, from the embedding cache: {kept}" in result.output
    # The cache keeps the texts of the last two builds (a removal by mistake, or a build of
    # the wrong folder, re-embedded everything): added back, the report embeds nothing.
    every = set(read_cache(root))
    assert len(every) == both.embedded > kept
    _corpus(corpus, piracy=PIRACY, wildlife=WILDLIFE)
    again = build_index(settings, corpus, root)
    assert (again.embedded, again.cached) == (0, len(every))
    # A build of other texts: the last build's stay beside them, for one more build.
    _corpus(corpus, piracy=PIRACY.replace("golfe de Guinée", "golfe d’Aden"))
    monkeypatch.setattr(build, "Encoder", lambda *_args, **_kwargs: encoder)
    edited = build_index(settings, corpus, root)
    assert edited.embedded > 0
    assert set(read_cache(root)) > every
    build_index(settings, corpus, root, force=True)
    assert len(read_cache(root)) == len(_texts(corpus)) < len(every)


def _garbage(path: Path) -> None:
    path.write_bytes(b"not a numpy archive")


def _truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _foreign(path: Path) -> None:
    np.savez(path, something=np.arange(3))


def _other_format(path: Path) -> None:
    with np.load(path) as archive:
        arrays = dict(archive)
    np.savez(path, **{**arrays, "format": np.array(99)})


def _wrong_width(path: Path) -> None:
    with np.load(path) as archive:
        arrays = dict(archive)
    np.savez(path, **{**arrays, "vectors": arrays["vectors"][:, :5].astype(np.float64)})


def test_the_model_is_loaded_once_for_all_parts(settings, real_encoder, tmp_path, monkeypatch):
    monkeypatch.setattr(embedding_cache, "CHECKPOINT_TEXTS", 5)
    made = []
    monkeypatch.setattr(build, "Encoder", lambda *_args, **_kwargs: made.append(1) or real_encoder)
    corpus = _corpus(tmp_path / "corpus", piracy=PIRACY)
    said: list[str] = []
    report = build_index(settings, corpus, tmp_path / "index", log=said.append)
    assert report.embedded > 2 * 5 and made == [1]  # three parts at least
    # An operator embedding a large corpus is told how far along it is, part by part.
    progress = [line for line in said if line.startswith("embedding new texts:")]
    total = f"{report.embedded:,}"
    assert progress[:3] == [f"embedding new texts: {n} of {total} done" for n in (0, 5, 10)]


def test_an_interrupted_build_keeps_what_it_embedded(settings, encoder, tmp_path, monkeypatch):
    """The cache was written only at the end: a Ctrl-C after minutes of embedding lost it all."""
    monkeypatch.setattr(embedding_cache, "CHECKPOINT_TEXTS", 5)
    corpus, root = _corpus(tmp_path / "corpus", piracy=PIRACY), tmp_path / "index"
    calls = 0
    encode = encoder.encode_prompted

    def interrupted(items, show_progress=False):
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt
        return encode(items, show_progress)

    monkeypatch.setattr(encoder, "encode_prompted", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_index(settings, corpus, root)
    embedded = list(encoder.asked)
    assert len(embedded) == 10 and len(read_cache(root)) == 10

    encoder.asked.clear()
    monkeypatch.setattr(encoder, "encode_prompted", encode)
    report = build_index(settings, corpus, root)
    assert not set(encoder.asked) & set(embedded)
    assert set(encoder.asked) | set(embedded) == _texts(corpus)
    assert report.cached == 10 and len(read_cache(root)) == len(_texts(corpus))


@pytest.mark.parametrize("damage", [_garbage, _truncated, _foreign, _other_format, _wrong_width])
def test_damaged_cache_reads_as_empty_with_a_warning(tmp_path, caplog, damage):
    write_cache(tmp_path, {"a" * 64: np.ones(4, dtype=np.float32)})
    assert list(read_cache(tmp_path)) == ["a" * 64]
    damage(tmp_path / embedding_cache.CACHE_DIR / embedding_cache.CACHE_FILE)
    with caplog.at_level(logging.WARNING, logger="indexer.embedding_cache"):
        assert read_cache(tmp_path) == {}
    assert "embedding cache" in caplog.text


def test_build_survives_a_damaged_cache_and_replaces_it(settings, encoder, tmp_path):
    corpus, root = _corpus(tmp_path / "corpus", wildlife=WILDLIFE), tmp_path / "index"
    build_index(settings, corpus, root)
    _garbage(root / embedding_cache.CACHE_DIR / embedding_cache.CACHE_FILE)
    encoder.asked.clear()
    report = build_index(settings, corpus, root, force=True)
    assert sorted(encoder.asked) == sorted(_texts(corpus)) and report.cached == 0
    assert len(load_index(root).passages) == report.passages
    identity = encoder.encoder.identity
    keys = {text_key(identity, prompt, text) for prompt, text in encoder.asked}
    assert set(read_cache(root)) == keys


def test_interrupted_cache_write_keeps_the_previous_cache(tmp_path, monkeypatch):
    before = {"a" * 64: np.ones(4, dtype=np.float32)}
    write_cache(tmp_path, before)

    def killed(*_args, **_kwargs):
        raise KeyboardInterrupt  # as if the build died between writing and renaming

    monkeypatch.setattr(embedding_cache.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        write_cache(tmp_path, {"b" * 64: np.zeros(4, dtype=np.float32)})
    monkeypatch.undo()
    assert read_cache(tmp_path).keys() == before.keys()
    write_cache(tmp_path, {"c" * 64: np.zeros(4, dtype=np.float32)})  # over the leftover
    assert list(read_cache(tmp_path)) == ["c" * 64]


def test_a_full_disk_leaves_no_partial_cache_and_names_the_file(tmp_path, monkeypatch):
    before = {"a" * 64: np.ones(4, dtype=np.float32)}
    write_cache(tmp_path, before)

    def full(handle, **_arrays):
        handle.write(b"x" * 100)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(embedding_cache.np, "savez", full)
    with pytest.raises(OSError, match=r"cannot write .*embedding-cache.*No space left") as raised:
        write_cache(tmp_path, {"b" * 64: np.zeros(4, dtype=np.float32)})
    assert raised.value.errno == errno.ENOSPC
    monkeypatch.undo()
    folder = tmp_path / embedding_cache.CACHE_DIR
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == [
        embedding_cache.CACHE_FILE
    ]
    assert read_cache(tmp_path).keys() == before.keys()


def test_cache_key_covers_model_prompt_and_text(settings):
    model = resolve_model(settings).identity
    key = text_key(model, "passage: ", "Un texte.")
    assert key == text_key(model, "passage: ", "Un texte.")
    other_weights = dataclasses.replace(model, checksum="0" * 64)
    assert key != text_key(other_weights, "passage: ", "Un texte.")
    assert key != text_key(model, "query: ", "Un texte.")
    assert key != text_key(model, "passage: ", "Un texte")
    # The query prompt is not applied to passages: changing it keeps their vectors.
    assert key == text_key(dataclasses.replace(model, query_prompt="q: "), "passage: ", "Un texte.")
    # A local folder is its weights, whatever spelling of its path named it.
    folder = dataclasses.replace(model, name="/models/m", source=LOCAL_FOLDER, checksum="1" * 64)
    respelled = dataclasses.replace(folder, name="./m/")
    assert text_key(folder, "passage: ", "Un texte.") == text_key(
        respelled, "passage: ", "Un texte."
    )
    assert key != text_key(
        dataclasses.replace(model, name="another/hub-model"), "passage: ", "Un texte."
    )


def _sentences_asked_as_queries(asked, query_prompt, passages) -> list[str]:
    """Texts embedded as queries, but the cited articles' headlines."""
    headlines = {headline(url) for url in article_urls(passages)}
    return [text for prompt, text in asked if prompt == query_prompt and text not in headlines]


def test_beyond_the_pseudo_query_limit_a_build_embeds_the_chosen_sentences_as_queries(
    settings, encoder, tmp_path, monkeypatch
):
    monkeypatch.setattr(passage_vectors, "PSEUDO_QUERIES", 4)
    corpus, root = _corpus(tmp_path / "corpus", piracy=PIRACY), tmp_path / "index"
    build_index(settings, corpus, root)
    query_prompt = encoder.encoder.identity.query_prompt
    loaded = load_index(root)
    asked = _sentences_asked_as_queries(encoder.asked, query_prompt, loaded.passages)
    sentences = [
        p.text[a:b] for i, p in enumerate(loaded.passages) for a, b in loaded.sentences.of(i)[1]
    ]
    owners = np.repeat(np.arange(len(loaded.passages)), np.diff(loaded.sentences.offsets))
    chosen, members = passage_vectors.pseudo_queries(sentences, owners)
    assert len(sentences) > 4 and sorted(asked) == sorted(chosen)
    cache = read_cache(root)
    identity = encoder.encoder.identity
    queries = np.stack([cache[text_key(identity, query_prompt, text)] for text in chosen])
    passages = loaded.vectors.reconstruct_n(0, loaded.vectors.ntotal)
    expected = passage_vectors.hubness(passages, queries, members)
    assert np.allclose(loaded.hubness, expected, atol=1e-5)

    # Another report: only its own sentences can take a place among the chosen queries.
    encoder.asked.clear()
    _corpus(corpus, piracy=PIRACY, wildlife=WILDLIFE)
    build_index(settings, corpus, root)
    loaded = load_index(root)
    asked = set(_sentences_asked_as_queries(encoder.asked, query_prompt, loaded.passages))
    wildlife = {
        p.text[a:b]
        for i, p in enumerate(loaded.passages)
        if p.document == "wildlife"
        for a, b in loaded.sentences.of(i)[1]
    }
    assert asked <= wildlife


def test_a_build_says_which_versions_it_deleted(settings, encoder, tmp_path, monkeypatch):
    """Pruning deletes versions an operator may have meant to roll back to: it is said."""
    corpus = _corpus(tmp_path / "corpus", piracy=PIRACY)
    root = tmp_path / "index"
    first = build_index(settings, corpus, root).version
    monkeypatch.setenv("REPORT_KEEP_VERSIONS", "1")
    get_settings.cache_clear()
    try:
        forced = ["build", "--corpus", str(corpus), "--out", str(root), "--force"]
        kept = CliRunner().invoke(index_app, forced)  # the current version is kept anyway
        deleted = CliRunner().invoke(index_app, forced)
    finally:
        get_settings.cache_clear()
    assert kept.exit_code == deleted.exit_code == 0, (kept.output, deleted.output)
    assert "versions deleted" not in kept.output
    said = (
        "versions deleted (REPORT_KEEP_VERSIONS keeps the 1 newest, the one current before "
        "this build and those a running service serves): "
    )
    assert f"{said}{first}\n" in deleted.output


def test_a_large_cache_is_saved_at_least_every_few_parts(tmp_path, monkeypatch):
    """Parts grew with the cache (half of it): over a cache of 100,000 texts an interrupted
    build lost up to 50,000 texts of embedding, some 40 minutes."""
    monkeypatch.setattr(embedding_cache, "CHECKPOINT_TEXTS", 5)
    model = resolve_model(Settings()).identity
    old = [("passage: ", f"old {n}") for n in range(200)]
    write_cache(tmp_path, {text_key(model, *p): np.ones(4, np.float32) for p in old})
    parts: list[int] = []

    def encode(items: list[tuple[str, str]]) -> np.ndarray:
        parts.append(len(items))
        return np.ones((len(items), 4), dtype=np.float32)

    new = [("passage: ", f"new {n}") for n in range(120)]
    embedding_cache.embed_with_cache(tmp_path, model, new, encode)
    assert sum(parts) == 120 and max(parts) == 8 * 5
