"""The Ray embedding stage gives the vectors the in-process encoder gives, in the same order."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indexer.artifact import load_index
from indexer.build import build_index
from indexer.embedding.model import ModelLoadError, resolve_model
from indexer.settings import Settings
from tests.conftest import CORPUS

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]'")


def test_no_ray_installed_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from indexer.embedding.ray_encoder import RayPassageEncoder

    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets without the extra
    with pytest.raises(ModelLoadError, match=r"pip install 'report-search\[ray\]'"):
        RayPassageEncoder(resolve_model(Settings()), address="local")


def test_an_unreachable_cluster_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs before the module starts its own instance: "auto" must find nothing."""
    from ray._private.services import find_gcs_addresses

    from indexer.embedding.ray_encoder import RayPassageEncoder

    if ray.is_initialized() or find_gcs_addresses():
        pytest.skip("a Ray instance is running on this machine; 'auto' would join it")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with pytest.raises(ModelLoadError, match="cannot connect to the Ray cluster at 'auto'"):
        RayPassageEncoder(resolve_model(Settings()), address="auto")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    """A Ray instance of 2 CPUs in this process, shut down after the module's tests."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def test_a_build_on_ray_gives_the_plain_build_vectors(local_ray: Any, tmp_path: Path) -> None:
    """The whole embedding stage through `build_index`: passages and sentences, same rows.

    The Ray encoder sorts texts by length to pad less, so a lost order would fail this.
    """
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    report = (CORPUS / "interpol-2021-fr.txt").read_text("utf-8")
    (corpus / "extract.txt").write_text(report[:6000], "utf-8")
    plain, on_ray = tmp_path / "plain", tmp_path / "ray"
    build_index(Settings(batch_size=8), corpus, plain)
    build_index(Settings(batch_size=8, ray_address="local", embed_workers=2), corpus, on_ray)

    expected, actual = load_index(plain), load_index(on_ray)
    assert actual.passages == expected.passages
    n = expected.vectors.ntotal
    cosines = np.sum(
        actual.vectors.reconstruct_n(0, n) * expected.vectors.reconstruct_n(0, n), axis=1
    )
    assert n >= 5 and cosines.min() >= 0.9999, cosines
    sentences = np.sum(actual.sentences.vectors * expected.sentences.vectors, axis=1)
    assert len(sentences) > n and sentences.min() >= 0.9999
    # Sentences embedded as queries on the cluster too: the hubness they give is the same.
    assert np.allclose(actual.hubness, expected.hubness, atol=1e-5)


def test_a_model_folder_missing_on_the_cluster_is_a_clear_error(
    local_ray: Any, tmp_path: Path
) -> None:
    from indexer.embedding.ray_encoder import RayPassageEncoder

    gone = tmp_path / "gone"
    missing = dataclasses.replace(resolve_model(Settings()), location=str(gone), local_path=gone)
    encoder = RayPassageEncoder(missing, address="local")
    # Asking the size before any vectors exist loads the model on one worker (the cheap way in).
    with pytest.raises(ModelLoadError, match="exists at that path on every node"):
        encoder.dimension  # noqa: B018
