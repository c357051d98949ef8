"""How the exported query encoder is fed and pooled: shared by serving and by the export.

The ONNX graph (``onnx_export``) holds only the transformer: it takes ``input_ids``,
``attention_mask`` (and ``token_type_ids`` when the model and its tokenizer use them), with
dynamic batch and sequence axes, and returns ``last_hidden_state``. Tokenising, padding and
pooling happen here in numpy, without torch, so that ``OnnxQueryEncoder`` at serving time and the
export's check against torch feed and pool the graph the same way, and give the vectors
sentence-transformers gives.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from tokenizers import Encoding, Tokenizer

OUTPUT_NAME = "last_hidden_state"


class OnnxExportError(RuntimeError):
    """The ONNX model could not be exported or used; the message says what to do about it.

    Defined here, below the export and its manifest, because reading the layout raises it first.
    """


@dataclass(frozen=True)
class ModelLayout:
    """What the ONNX path needs from a sentence-transformers folder, read without torch."""

    transformer_dir: Path
    max_seq_length: int
    do_lower_case: bool
    pad_token_id: int
    dimension: int
    token_type_ids: bool

    def load_tokenizer(self) -> Tokenizer:
        """The folder's tokenizer.json, truncating like sentence-transformers and not padding."""
        from tokenizers import Tokenizer, normalizers

        try:
            tokenizer = Tokenizer.from_file(str(self.transformer_dir / "tokenizer.json"))
        except Exception as exc:  # tokenizers raises a bare Exception for a bad file
            raise OnnxExportError(
                f"cannot read {self.transformer_dir / 'tokenizer.json'}: {exc}. "
                "Provision the model again (delete the folder) or fix REPORT_MODEL."
            ) from exc
        tokenizer.enable_truncation(max_length=self.max_seq_length)
        tokenizer.no_padding()
        if self.do_lower_case:  # what sentence-transformers does for do_lower_case
            current = tokenizer.normalizer
            steps = [normalizers.Lowercase()] + ([current] if current is not None else [])
            tokenizer.normalizer = normalizers.Sequence(steps)
        return tokenizer


def read_layout(model_dir: Path) -> ModelLayout:
    """Check that the folder is Transformer -> mean Pooling (-> Normalize), and read its settings.

    Other pipelines (CLS pooling, Dense layers, prompt-excluding pooling) would give different
    vectors from the ONNX path than from sentence-transformers, so they are refused here.
    """
    model_dir = Path(model_dir)
    modules = _read_json(model_dir / "modules.json", required=False)
    if modules is None:
        transformer_dir = model_dir  # a plain Hugging Face folder: sentence-transformers mean-pools
    else:
        kinds = [str(module.get("type", "")).rsplit(".", 1)[-1] for module in modules]
        if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
            raise _unsupported(model_dir, f"modules {kinds}")
        transformer_dir = model_dir / str(modules[0].get("path", ""))
        pooling = _read_json(model_dir / str(modules[1].get("path", "")) / "config.json")
        if _pooling_modes(pooling) != ["mean"] or not pooling.get("include_prompt", True):
            raise _unsupported(model_dir, f"pooling {pooling}")
    config = _read_json(transformer_dir / "config.json")
    st_config = _read_json(transformer_dir / "sentence_bert_config.json", required=False) or {}
    tokenizer_config = _read_json(transformer_dir / "tokenizer_config.json", required=False) or {}
    if not (transformer_dir / "tokenizer.json").is_file():
        raise OnnxExportError(
            f"{transformer_dir} has no tokenizer.json (a fast tokenizer file), which the ONNX "
            "query encoder needs. Use a model that ships one, or the sentence-transformers Encoder."
        )
    # sentence-transformers caps the length at the position table, as done here.
    limits = [
        st_config.get("max_seq_length") or tokenizer_config.get("model_max_length"),
        config.get("max_position_embeddings"),
    ]
    input_names = tokenizer_config.get("model_input_names")
    try:
        return ModelLayout(
            transformer_dir=transformer_dir,
            max_seq_length=min(int(limit) for limit in limits if limit),
            do_lower_case=bool(st_config.get("do_lower_case", False)),
            pad_token_id=int(config.get("pad_token_id") or 0),
            dimension=int(config["hidden_size"]),
            # Only when the tokenizer produces them (for one text they are all zero anyway).
            token_type_ids=input_names is None or "token_type_ids" in input_names,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise OnnxExportError(
            f"{transformer_dir / 'config.json'} lacks a usable hidden_size or maximum length "
            f"({exc!r}). Provision the model again or fix REPORT_MODEL."
        ) from exc


def model_inputs(
    encodings: Sequence[Encoding], names: Sequence[str], pad_token_id: int
) -> dict[str, np.ndarray]:
    """The graph's inputs for ``encodings``, right-padded to the longest one."""
    length = max(len(encoding.ids) for encoding in encodings)
    ids = np.full((len(encodings), length), pad_token_id, dtype=np.int64)
    mask = np.zeros((len(encodings), length), dtype=np.int64)
    for row, encoding in enumerate(encodings):
        ids[row, : len(encoding.ids)] = encoding.ids
        mask[row, : len(encoding.ids)] = 1
    arrays = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    return {name: arrays[name] for name in names}


def mean_pool(hidden: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """Masked mean over tokens, L2-normalised: sentence-transformers' Pooling + Normalize."""
    mask = attention_mask[..., None].astype(np.float32)
    summed = (hidden * mask).sum(axis=1)
    vectors = summed / np.maximum(mask.sum(axis=1), 1e-9)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def _pooling_modes(config: dict[str, Any]) -> list[str]:
    """Pooling modes in sentence-transformers' current or legacy (``pooling_mode_*``) form."""
    if "pooling_mode" in config:
        mode = config["pooling_mode"]
        return [mode] if isinstance(mode, str) else list(mode)
    legacy = [key for key, value in config.items() if key.startswith("pooling_mode_") and value]
    return [key.removeprefix("pooling_mode_").removesuffix("_tokens") for key in legacy] or ["mean"]


def _unsupported(model_dir: Path, what: str) -> OnnxExportError:
    return OnnxExportError(
        f"{model_dir} is not Transformer -> mean Pooling (-> Normalize) ({what}), so the ONNX "
        "query encoder would not reproduce its vectors. Use the sentence-transformers Encoder."
    )


def _read_json(path: Path, required: bool = True) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if not required:
            return None
        raise OnnxExportError(
            f"{path} is missing: {path.parent} is not a complete model folder. Provision the "
            "model again (delete the folder) or fix REPORT_MODEL."
        ) from None
    except (OSError, ValueError) as exc:
        raise OnnxExportError(
            f"cannot read {path} ({exc}). Provision the model again or fix REPORT_MODEL."
        ) from exc
