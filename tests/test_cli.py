"""The two command-line tools, driven as a user would."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from indexer.artifact import load_index
from indexer.cli import app as index_app
from indexer.settings import get_settings
from service.cli import app as search_app

DEV = Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev.jsonl"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _env(monkeypatch, settings, index_dir):
    monkeypatch.setenv("REPORT_INDEX_DIR", str(index_dir))
    monkeypatch.setenv("REPORT_CORPUS_DIR", str(settings.corpus_dir))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_query_prints_ranked_passages_with_sources():
    result = runner.invoke(search_app, ["query", "fausses pharmacies en ligne", "-k", "2"])
    assert result.exit_code == 0, result.output
    assert "#1" in result.output and "#2" in result.output and "#3" not in result.output
    assert "Pangea" in result.output
    assert "source: https://www.interpol.int/" in result.output


def test_query_json_output_is_the_api_shape():
    result = runner.invoke(search_app, ["query", "Operation Thunder", "--json", "-k", "1"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["results"][0]["source_urls"]


def test_query_filters_by_page_range_like_the_api():
    args = ["query", "Operation Thunder", "--json", "-k", "3", "--page-min", "16"]
    result = runner.invoke(search_app, [*args, "--page-max", "17"])
    assert result.exit_code == 0, result.output
    pages = [hit["page"] for hit in json.loads(result.stdout)["results"]]
    assert len(pages) == 3 and all(16 <= page <= 17 for page in pages)
    reversed_pages = runner.invoke(search_app, [*args, "--page-max", "15"])
    assert reversed_pages.exit_code == 1
    assert "page_min: 16 is after page_max (15)" in reversed_pages.output


def test_a_passage_that_holds_a_joined_section_names_it(index_dir):
    passages = load_index(index_dir).passages
    joined = next(p for p in passages if len(p.sections) > 1)
    other = next(t for t in joined.sections if t != joined.section)
    args = ["query", other, "--section", other, "--page-min", str(joined.page)]
    result = runner.invoke(search_app, [*args, "--page-max", str(joined.page), "-k", "50"])
    assert result.exit_code == 0, result.output
    assert f"{joined.section} — p. {joined.page}" in result.output
    assert f"also: {other}" in result.output


def test_an_empty_result_says_so():
    args = ["query", "Operation Thunder", "--section", "no such", "--page-min", "3"]
    result = runner.invoke(search_app, args)
    assert result.exit_code == 0, result.output
    assert (
        "No passage matches 'Operation Thunder' with section='no such', page_min=3" in result.output
    )


@pytest.mark.parametrize(
    "options",
    [["-k", "+5"], ["-k", " 5"], ["-k", "0_5"], ["-k", "5.0"], ["-k", "0"], ["--page-min", "+2"]],
)
def test_numbers_are_digits_as_the_api_reads_them(options):
    """Python's int() reads "+5", " 5" and "0_5" as 5; the HTTP API refuses them."""
    result = runner.invoke(search_app, ["query", "trafic", *options, "--index", "/nowhere"])
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.replace("│", " ").split())  # as typer boxes and wraps it
    assert "whole number written in digits" in said or "not in the range" in said, said


@pytest.mark.parametrize("command", [["query", "trafic"], ["eval", "queries.jsonl"]])
def test_an_unknown_mode_is_refused_in_plain_words(command):
    """Typer's enum check put its wrapper's "Value error, " in front of the message."""
    result = runner.invoke(search_app, [*command, "--mode", "foo", "--index", "/nowhere"])
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.replace("│", " ").split())
    assert "'foo' is not one of dense, keyword, hybrid" in said, said
    assert "Value error" not in said


def test_blank_query_exits_non_zero():
    result = runner.invoke(search_app, ["query", "   "])
    assert result.exit_code == 1
    assert "empty" in result.output


def test_eval_prints_metrics_per_language(tmp_path):
    queries = tmp_path / "q.jsonl"
    lines = [
        {
            "id": "a",
            "lang": "fr",
            "query": "pêche illégale",
            "answers": ["Ikatere"],
            "url": "poissons",
        },
        {"id": "b", "lang": "en", "query": "illegal fishing operation", "answers": ["Ikatere"]},
    ]
    queries.write_text("\n".join(json.dumps(line) for line in lines), "utf-8")
    result = runner.invoke(
        search_app, ["eval", str(queries), "--json", "--mode", "Hybrid", "--mode", "DENSE"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report["modes"]) == {"hybrid", "dense"}  # any case, each mode asked for
    assert set(report["hybrid_against"]) == {"dense"}
    metrics = report["modes"]["hybrid"]
    assert set(metrics) == {"all", "en", "fr"}
    assert metrics["fr"]["recall_at_5"] == 1.0
    assert metrics["fr"]["url_at_hit"] == 1.0
    assert metrics["en"]["url_at_hit"] is None


@pytest.mark.skipif(not DEV.exists(), reason="shared dev set not present")
def test_eval_on_dev_set_meets_the_bar():
    result = runner.invoke(search_app, ["eval", str(DEV), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    by_mode = report["modes"]
    assert set(by_mode) == {"dense", "keyword", "hybrid"}
    assert set(report["hybrid_against"]) == {"dense", "keyword"}
    against_keyword = report["hybrid_against"]["keyword"]["all"]
    assert against_keyword["mrr_gain"] == pytest.approx(
        by_mode["hybrid"]["all"]["mrr_at_10"] - by_mode["keyword"]["all"]["mrr_at_10"]
    )
    assert against_keyword["low"] <= against_keyword["mrr_gain"] <= against_keyword["high"]
    overall = by_mode["hybrid"]["all"]
    assert overall["recall_at_5"] >= 0.90
    assert overall["url_at_hit"] >= 0.80
    # The default mode must be at least as good as either retriever alone.
    for single in ("dense", "keyword"):
        assert overall["mrr_at_10"] >= by_mode[single]["all"]["mrr_at_10"]


def test_eval_table_compares_modes(tmp_path):
    queries = tmp_path / "q.jsonl"
    line = {"id": "a", "lang": "fr", "query": "pêche illégale", "answers": ["Ikatere"]}
    queries.write_text(json.dumps(line), "utf-8")
    result = runner.invoke(search_app, ["eval", str(queries)])
    assert result.exit_code == 0, result.output
    for mode in ("dense", "keyword", "hybrid"):
        assert f"| all | {mode} | 1 |" in result.stdout
    assert "| group | hybrid against | queries | MRR@10 gain |" in result.stdout
    assert "| fr | keyword | 1 |" in result.stdout


def test_eval_takes_no_k_since_its_metrics_are_defined_at_ten(tmp_path):
    # With -k, R@5 and MRR@10 were printed on fewer results, or silently on 10 of more asked.
    queries = tmp_path / "q.jsonl"
    line = {"id": "a", "lang": "fr", "query": "pêche illégale", "answers": ["Ikatere"]}
    queries.write_text(json.dumps(line), "utf-8")
    for k in ("1", "20"):
        result = runner.invoke(search_app, ["eval", str(queries), "--mode", "keyword", "-k", k])
        assert result.exit_code == 2, result.output
        assert "No such option" in result.output


def test_eval_bad_file_exits_non_zero(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n', "utf-8")
    result = runner.invoke(search_app, ["eval", str(bad)])
    assert result.exit_code == 1
    assert "bad.jsonl:1" in result.output


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (
            '{"id": "x", "lang": "fr", "query": "   ", "answers": ["a"]}\n',
            "bad.jsonl:1: query: the query is empty",
        ),
        (
            '{"id": "x", "lang": "fr", "query": "%s", "answers": ["a"]}\n' % ("a" * 1001),
            "bad.jsonl:1: query: String should have at most 1000 characters",
        ),
        (
            '{"id": "x", "lang": "fr", "query": "Qui ?", "answers": []}\n',
            "bad.jsonl:1: answers: List should have at least 1 item",
        ),
        ('{"id": "x", "query": "Qui ?"}\n', "bad.jsonl:1: lang: Field required; answers: Field"),
        (
            '{"id": "x", "lang": "fr", "query": "Qui ?", "answers": [" "]}\n',
            "bad.jsonl:1: answers: answer 1 is blank, and every passage would contain it",
        ),
        ("caf\xe9\n".encode("latin-1"), "is not UTF-8 text"),
    ],
    ids=["blank-query", "long-query", "no-answers", "missing-fields", "blank-answer", "latin-1"],
)
def test_eval_file_mistakes_are_one_line_before_any_search(tmp_path, content, said):
    bad = tmp_path / "bad.jsonl"
    if isinstance(content, bytes):
        bad.write_bytes(content)
    else:
        bad.write_text(content, "utf-8")
    result = runner.invoke(search_app, ["eval", str(bad)])
    assert result.exit_code == 1
    assert said in result.output and "query: query:" not in result.output
    assert "errors.pydantic.dev" not in result.output and "[type=" not in result.output
    assert isinstance(result.exception, SystemExit)  # typer's exit, not a traceback


@pytest.mark.parametrize(
    ("out", "said"),
    [
        (".", "is the corpus folder"),
        ("index", "is inside the corpus folder"),
        ("..", "is inside the index root"),
    ],
    ids=["same-folder", "index-in-corpus", "corpus-in-index"],
)
def test_build_refuses_an_index_root_and_corpus_inside_one_another(tmp_path, out, said):
    """Built into the corpus, every later build listed the index's folders as files it does
    not read; a corpus inside the index root is in the way of the versions it writes."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "r.txt").write_text("RAPPORT\n\nTexte.", "utf-8")
    before = sorted(tmp_path.rglob("*"))
    arguments = ["build", "--corpus", str(corpus), "--out", str(corpus / out)]
    result = runner.invoke(index_app, arguments)
    assert result.exit_code == 1 and said in result.output, result.output
    assert sorted(tmp_path.rglob("*")) == before  # nothing written


def test_build_with_missing_corpus_exits_non_zero(tmp_path):
    result = runner.invoke(
        index_app, ["build", "--corpus", str(tmp_path / "none"), "--out", str(tmp_path / "i")]
    )
    assert result.exit_code == 1
    assert "corpus folder not found" in result.output
    assert not (tmp_path / "i").exists()  # a mistyped corpus leaves no index root behind
    (tmp_path / "r.txt").write_text("RAPPORT\n\nTexte.", "utf-8")
    result = runner.invoke(
        index_app, ["build", "--corpus", str(tmp_path / "r.txt"), "--out", str(tmp_path / "i")]
    )
    assert result.exit_code == 1 and "r.txt is a file: give the corpus folder" in result.output
    # Nor does a corpus that fails once the build holds its lock.
    (tmp_path / "empty").mkdir()
    result = runner.invoke(
        index_app, ["build", "--corpus", str(tmp_path / "empty"), "--out", str(tmp_path / "i")]
    )
    assert result.exit_code == 1 and "no documents" in result.output
    assert not (tmp_path / "i").exists()


def test_a_build_says_which_files_it_does_not_read_and_finds_a_reports_language(
    tmp_path,
):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "lagebild.txt").write_text(
        "LAGEBILD WIRTSCHAFTSKRIMINALITÄT\n\nDie Zahl der erfassten Fälle ist im Jahr 2020 "
        "deutlich gestiegen. Die Ermittler arbeiteten eng mit den Behörden der Nachbarländer "
        "zusammen.\n",
        "utf-8",
    )
    (corpus / "annual-report.docx").write_bytes(b"PK\x03\x04")
    (corpus / ".gitkeep").write_text("")
    (corpus / "2024").mkdir()  # reports in a subfolder were skipped without a word
    (corpus / "2024" / "annual.txt").write_text("TITLE\n\nText.\n", "utf-8")
    result = runner.invoke(
        index_app, ["build", "--corpus", str(corpus), "--out", str(tmp_path / "i")]
    )
    assert result.exit_code == 0, result.output
    assert (
        "not read (a report is a .pdf, .txt or .md file of the folder itself): 2024/, "
        "annual-report.docx\n"
    ) in result.output
    (document,) = load_index(tmp_path / "i").manifest.documents
    assert document.language == "de"  # no metadata: the language its passages are in


def test_build_into_an_unwritable_place_fails_before_embedding(tmp_path, settings):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", "utf-8")
    result = runner.invoke(
        index_app,
        ["build", "--corpus", str(settings.corpus_dir), "--out", str(blocker / "index")],
    )
    assert result.exit_code == 1
    assert f"cannot write an index at {blocker / 'index'}" in result.output
    assert "embedding" not in result.output  # refused before any model work
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_an_index_root_that_is_a_file_is_said_to_be_one(tmp_path, settings):
    """ "File exists" said nothing of what was wrong, and the advice for ``show`` and
    ``rollback`` was to build there, the command that had just failed."""
    afile = tmp_path / "afile"
    afile.write_text("not a folder", "utf-8")
    said = f"{afile} is a file, not an index root; an index root is a folder"
    for command in (
        ["build", "--corpus", str(settings.corpus_dir), "--out", str(afile)],
        ["rollback", "--index", str(afile)],
    ):
        result = runner.invoke(index_app, command)
        assert result.exit_code == 1 and said in result.output, result.output
    assert afile.read_text("utf-8") == "not a folder"


def test_show_fails_when_the_versions_files_are_missing(index_dir, tmp_path):
    """A version written halfway or damaged had its manifest printed with status 0."""
    copy = tmp_path / "index"
    shutil.copytree(index_dir, copy, symlinks=True)
    sound = runner.invoke(index_app, ["show", "--index", str(copy)])
    assert sound.exit_code == 0 and json.loads(sound.output)["passage_count"] > 0
    (copy / "current" / "hubness.npy").unlink()
    result = runner.invoke(index_app, ["show", "--index", str(copy)])
    assert result.exit_code == 1
    assert "lacks hubness.npy: it cannot be served" in result.output


def test_build_reports_up_to_date(index_dir):
    result = runner.invoke(index_app, ["build", "--out", str(index_dir)])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output


def test_provision_prints_the_model_folder_with_its_onnx_export():
    result = runner.invoke(index_app, ["provision"])
    assert result.exit_code == 0, result.output
    folder = Path(result.output.strip().splitlines()[-1])
    assert (folder / "modules.json").is_file()
    assert (folder / "onnx" / "model-int8.onnx").is_file()


def test_provision_with_an_unknown_model_folder_exits_non_zero(monkeypatch, tmp_path):
    monkeypatch.setenv("REPORT_MODEL", str(tmp_path / "no-such-model"))
    get_settings.cache_clear()
    result = runner.invoke(index_app, ["provision"])
    assert result.exit_code == 1
    assert "error:" in result.output


@pytest.mark.parametrize(("cli", "args"), [(index_app, ["list"]), (search_app, ["query", "x"])])
def test_a_bad_setting_exits_with_one_line_not_a_traceback(monkeypatch, cli, args):
    monkeypatch.setenv("REPORT_PORT", "eighty")
    get_settings.cache_clear()
    result = runner.invoke(cli, args)
    assert result.exit_code == 1
    assert "error: invalid settings: REPORT_PORT:" in result.output
    assert "Traceback" not in result.output


def test_serve_options_reach_the_app_settings_and_the_workers(monkeypatch):
    """--host and --port must not stop at uvicorn: the app checks /mcp Host headers against
    the bind address, and worker processes build their settings from the environment."""
    import uvicorn

    import service.cli

    calls: list[tuple[object, dict[str, object]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **options: calls.append((target, options)))
    # Workers would each export the ONNX encoder at once: the parent does it first.
    monkeypatch.setattr(
        service.cli, "export_query_encoder", lambda model, backend: calls.append(("export", {}))
    )
    # 10.1.2.3 is no address of this machine: whether serve can listen is another test's.
    monkeypatch.setattr(service.cli, "_check_can_listen", lambda host, port: None)
    # Set here so that what serve exports is undone after the test.
    monkeypatch.setenv("REPORT_HOST", "127.0.0.1")
    monkeypatch.setenv("REPORT_PORT", "8000")
    result = runner.invoke(search_app, ["serve", "--host", "0.0.0.0", "--port", "8123"])
    assert result.exit_code == 0, result.output
    ((served, options),) = calls
    assert (options["host"], options["port"]) == ("0.0.0.0", 8123)
    assert (served.state.settings.host, served.state.settings.port) == ("0.0.0.0", 8123)

    calls.clear()
    result = runner.invoke(search_app, ["serve", "--host", "10.1.2.3", "--workers", "2"])
    assert result.exit_code == 0, result.output
    exported, (target, options) = calls
    assert exported == ("export", {})
    assert target == "service.api.app:create_worker_app" and options["host"] == "10.1.2.3"
    assert get_settings.__wrapped__().host == "10.1.2.3"  # what a worker process reads


def test_serve_says_when_it_cannot_listen_before_starting(monkeypatch):
    import socket

    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("uvicorn was started"))
    monkeypatch.setenv("REPORT_PORT", "8000")  # so that what serve exports is undone after
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(search_app, ["serve", "--port", str(port)])
    assert result.exit_code == 1
    assert f"error: cannot listen on 127.0.0.1:{port}: Address already in use" in result.output
    out_of_range = runner.invoke(search_app, ["serve", "--port", "99999"])
    assert out_of_range.exit_code == 2 and "65535" in out_of_range.output


def test_serve_refuses_an_index_of_another_model_before_binding(monkeypatch, tmp_path, index_dir):
    import shutil

    import uvicorn

    copy = tmp_path / "index"
    shutil.copytree(index_dir, copy, symlinks=True)
    manifest = copy / "current" / "manifest.json"
    data = json.loads(manifest.read_text("utf-8"))
    data["model"]["checksum"] = "0" * 64
    manifest.write_text(json.dumps(data), "utf-8")
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("the port was bound"))
    result = runner.invoke(search_app, ["serve", "--index", str(copy)])
    assert result.exit_code == 1
    assert "error: the index was built with model" in result.output
    assert "REPORT_QUERY_PROMPT and REPORT_PASSAGE_PROMPT" in result.output


def test_outline_lists_the_sections_that_section_filters_match(index_dir):
    result = runner.invoke(search_app, ["outline", "--index", str(index_dir)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("INTERPOL — Rapport annuel 2021 (interpol-2021-fr): 19 pages")
    finance = "FINANCES ET PRINCIPAUX DONATEURS ET PARTENAIRES  (1 passage)"
    assert re.search(rf"^  p\. 17 +{re.escape(finance)}$", result.output, re.MULTILINE)
    # The titles start in one column, however wide the page ranges.
    lines = result.output.splitlines()[1:]
    rows = [re.match(r"^  p\. \S+ +", line) for line in lines if "also: " not in line]
    assert all(rows) and len({row.end() for row in rows if row}) == 1
    # Under a section, the other titles --section finds its passages by: here the chapter
    # title printed over the article.
    fugitives = next(n for n, line in enumerate(lines) if "ARRESTATION DE FUGITIFS" in line)
    assert lines[fugitives + 1].split() == ["also:", "BASES", "DE", "DONNÉES", ":", "FAITS"]
    # With a document id, --json is the object GET /documents/{id} answers.
    as_json = runner.invoke(
        search_app, ["outline", "INTERPOL-2021-FR", "--json", "--index", str(index_dir)]
    )
    described = json.loads(as_json.output)
    assert sum(len(s["passage_ids"]) for s in described["sections"]) == described["passages"]
    unknown = runner.invoke(search_app, ["outline", "nope", "--index", str(index_dir)])
    assert unknown.exit_code == 1
    assert "no document has the id 'nope'; the index has interpol-2021-fr" in unknown.output


def test_an_unreadable_corpus_folder_is_one_error_with_status_1(tmp_path, monkeypatch):
    """Given by --corpus, Typer's own check printed a usage box and exited 2 (a command-line
    mistake); given by REPORT_CORPUS_DIR, it was "[Errno 13] Permission denied: 'c3'". The
    denial is simulated: tests may run as root, whom a mode of 000 does not stop."""
    import os

    corpus = tmp_path / "c3"
    corpus.mkdir()
    (corpus / "r.txt").write_text("texte", "utf-8")
    access, iterdir = os.access, Path.iterdir

    def denied_access(path, mode, *args, **kwargs):
        return Path(path).name != "c3" and access(path, mode, *args, **kwargs)

    def denied_listing(path):
        if path.name == "c3":
            raise PermissionError(13, "Permission denied", str(path))
        return iterdir(path)

    monkeypatch.setattr(os, "access", denied_access)
    monkeypatch.setattr(Path, "iterdir", denied_listing)
    out = ["--out", str(tmp_path / "index")]
    said = f"error: the corpus folder {corpus} cannot be read: Permission denied"
    given = runner.invoke(index_app, ["build", "--corpus", str(corpus), *out])
    assert given.exit_code == 1 and given.output.startswith(said), given.output
    monkeypatch.setenv("REPORT_CORPUS_DIR", str(corpus))
    get_settings.cache_clear()
    configured = runner.invoke(index_app, ["build", *out])
    assert configured.exit_code == 1 and configured.output.startswith(said), configured.output
