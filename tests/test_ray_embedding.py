"""The Ray embedding stage gives the vectors the in-process encoder gives, in the same order."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indexer.build import embedding_text, passages_for
from indexer.corpus import load_corpus
from indexer.embedding.encoder import Encoder
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


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """40 passage texts of the real report, of varied lengths, as a build embeds them."""
    passages = passages_for(load_corpus(CORPUS))
    return [embedding_text(p) for p in passages[:40]]


def test_ray_vectors_match_the_local_encoder(local_ray: Any, texts: list[str]) -> None:
    from indexer.embedding.ray_encoder import RayPassageEncoder

    model = resolve_model(Settings())
    expected = Encoder(model, batch_size=8).encode_passages(texts)
    # batch_size 8 over 40 texts: five batches shared by the two actors.
    encoder = RayPassageEncoder(model, address="local", workers=2, batch_size=8)
    vectors = encoder.encode_passages(texts)

    assert encoder.dimension == expected.shape[1]
    assert encoder.identity == model.identity
    assert vectors.shape == expected.shape
    assert vectors.dtype == np.float32
    # Row by row: the same text at the same position (a shuffle would fail this).
    cosines = np.sum(vectors * expected, axis=1)
    assert cosines.min() >= 0.9999, cosines
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encoder.encode_passages([]).shape == (0, expected.shape[1])


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
