"""Passage embedding on a Ray cluster: Ray Data ``map_batches`` over a pool of model actors.

A build's embedding stage is the one part worth spreading over machines. Ray Data gives
the batching, scheduling, back-pressure and fault handling; each actor loads the model
once and embeds the batches it is sent with the same ``Encoder`` a local build uses, so
vectors from the cluster and from this process are interchangeable.

Ray is an optional extra (``pip install 'report-search[ray]'``) and is imported only here,
when a build asks for it. Actors load the model from ``ResolvedModel.location`` with the hub
disabled: on a multi-node cluster the model folder must exist at the same path on every
node (a shared filesystem, or ``report-index provision`` run on each).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar

import numpy as np

from indexer.embedding.encoder import Encoder
from indexer.embedding.model import ModelIdentity, ModelLoadError, ResolvedModel

# Actors must never try a model hub: air-gapped clusters hang on the lookup.
_OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
_RUNTIME_ENV = {"env_vars": _OFFLINE_ENV}

T = TypeVar("T")


class _PassageEmbedder:
    """Ray Data actor: loads the encoder once, then embeds every batch it is given."""

    def __init__(self, model: ResolvedModel, batch_size: int) -> None:
        self._encoder = Encoder(model, batch_size=batch_size)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        items = [(str(p), str(t)) for p, t in zip(batch["prompt"], batch["text"], strict=True)]
        return {"position": batch["position"], "vector": self._encoder.encode_prompted(items)}


def _embedding_dimension(model: ResolvedModel) -> int:
    """Runs on the cluster: the vector size, when it is needed before any vectors exist."""
    return Encoder(model).dimension


class RayPassageEncoder:
    """Embeds a build's texts on a Ray cluster; same vectors and contract as
    ``Encoder.encode_prompted``.

    Only a build's texts: search queries are encoded by the service, in its own process. The
    model is loaded by the actors alone, never here, so the driver stays small. Each call
    starts its own actor pool, so a build embeds everything in one call (as
    ``indexer.passage_vectors.embed`` does).
    """

    def __init__(
        self, model: ResolvedModel, address: str, workers: int = 2, batch_size: int = 16
    ) -> None:
        self._ray = _connect(address)
        self._model = model
        self.identity: ModelIdentity = model.identity
        self.location = model.location
        self.workers = workers
        self.batch_size = batch_size
        self._dimension: int | None = None

    @property
    def dimension(self) -> int:
        """Vector size: read off the vectors, or asked of the cluster before the first call."""
        if self._dimension is None:
            # max_calls=1: the worker exits afterwards instead of keeping a model's memory.
            probe = self._ray.remote(num_cpus=1, max_calls=1, runtime_env=_RUNTIME_ENV)(
                _embedding_dimension
            )
            self._dimension = int(
                self._on_cluster(lambda: self._ray.get(probe.remote(self._model)))
            )
        return self._dimension

    def encode_prompted(
        self, items: list[tuple[str, str]], show_progress: bool = False
    ) -> np.ndarray:
        """Vectors for (prompt, text) pairs, in input order."""
        if not items:
            return np.zeros((0, self.dimension), dtype=np.float32)
        data = self._ray.data
        # Longest first, as sentence-transformers does within one call: batches of similar
        # lengths waste little on padding. The position column restores the input order.
        order = sorted(range(len(items)), key=lambda i: -len(items[i][1]))
        rows = [{"position": i, "prompt": items[i][0], "text": items[i][1]} for i in order]
        dataset = data.from_items(
            rows, override_num_blocks=-(-len(rows) // self.batch_size)
        ).map_batches(
            _PassageEmbedder,
            fn_constructor_args=(self._model, self.batch_size),
            batch_size=self.batch_size,
            batch_format="numpy",
            compute=data.ActorPoolStrategy(size=self.workers),
            num_cpus=1,
            runtime_env=_RUNTIME_ENV,
        )
        context = data.DataContext.get_current()
        shown, context.enable_progress_bars = context.enable_progress_bars, show_progress
        try:
            batches = self._on_cluster(
                lambda: list(dataset.iter_batches(batch_size=None, batch_format="numpy"))
            )
        finally:
            context.enable_progress_bars = shown
        positions = np.concatenate([batch["position"] for batch in batches])
        if sorted(positions.tolist()) != list(range(len(items))):
            raise ModelLoadError(
                f"the Ray cluster returned {len(positions)} vectors for {len(items)} texts"
            )
        vectors = np.empty((len(items), batches[0]["vector"].shape[1]), dtype=np.float32)
        vectors[positions] = np.concatenate([batch["vector"] for batch in batches])
        self._dimension = vectors.shape[1]
        return vectors

    def _on_cluster(self, work: Callable[[], T]) -> T:
        """Runs ``work``; a cluster failure becomes a ``ModelLoadError`` saying what to check."""
        try:
            return work()
        except self._ray.exceptions.RayError as exc:
            raise ModelLoadError(
                f"embedding on the Ray cluster failed. Check that report-search is installed and "
                f"the model folder {self.location!r} exists at that path on every node. "
                f"Ray said: {exc}"
            ) from exc


def _connect(address: str) -> ModuleType:
    """The ``ray`` module, joined to the cluster at ``address`` ("local" starts one here).

    A process already connected to Ray (a Ray job, a test) keeps its connection.
    """
    try:
        import ray
        import ray.data  # without the data extra this fails now rather than mid-build
    except ImportError as exc:
        raise ModelLoadError(
            f"REPORT_RAY_ADDRESS is set but Ray is not installed ({exc}). Install the extra "
            "(pip install 'report-search[ray]') or unset REPORT_RAY_ADDRESS to embed here."
        ) from exc
    if ray.is_initialized():
        return ray
    # The dashboard is for operating a long-lived cluster; a build's own instance needs none.
    options: dict[str, Any] = {"include_dashboard": False} if address == "local" else {}
    try:
        ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ModelLoadError(
            f"cannot connect to the Ray cluster at {address!r}: {str(exc).rstrip('.')}. Start one "
            "(ray start --head), set REPORT_RAY_ADDRESS to 'auto', a ray:// address or 'local', "
            "or unset it to embed in this process."
        ) from exc
    return ray
