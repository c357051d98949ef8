"""Export a sentence-transformers model's transformer to ONNX, in float32 and dynamic int8.

Why: a short query takes ~41 ms in sentence-transformers (torch fp32) on this idle 2-core machine
and ~10 ms in ONNX Runtime int8. sentence-transformers' own ``backend="onnx"`` cannot be installed
next to transformers 5 (its optimum-onnx extra pins transformers < 4.58), so the transformer is
exported here with the classic ``torch.onnx.export`` and pooled in numpy by the caller.

Layout: ``<model>/onnx/{model.onnx, model-int8.onnx, export.json}``. Everything is written into a
temporary folder inside the model folder and renamed into place, so ``onnx/`` is always complete.
``export.json`` says what the files were made from and with; when it matches, ``export_onnx``
returns without importing torch. Only the provisioned folder is needed: export works offline.

The graph takes ``input_ids``, ``attention_mask`` (and ``token_type_ids`` when the model and its
tokenizer use them), with dynamic batch and sequence axes, and returns ``last_hidden_state``.
``ModelLayout``, ``model_inputs`` and ``mean_pool`` define how it is fed and pooled, for the
export's own verification and for ``OnnxQueryEncoder`` alike.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import inspect
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from indexer.durable import fsync_file
from indexer.embedding.files import hash_file, remove_stale_folders, replace_folder
from indexer.settings import QueryBackend

if TYPE_CHECKING:
    from tokenizers import Encoding, Tokenizer

    from indexer.embedding.model import ResolvedModel

logger = logging.getLogger(__name__)

ONNX_DIR = "onnx"
FP32_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
MANIFEST = "export.json"
OPSET = 17
OUTPUT_NAME = "last_hidden_state"

# Bump when the graph or the quantisation recipe changes, so older exports are redone.
_RECIPE_VERSION = 3
# Measured on the 30 development queries (cosine to torch fp32, mean / min) with ORT 1.32 on an
# AVX2 CPU without VNNI: default settings 0.990 / 0.987; per-channel weights 0.996 / 0.991;
# reduce_range alone 0.969 / 0.954 (7-bit weights, per tensor); per-channel with reduce_range
# 0.997 / 0.995. ORT's documentation advises reduce_range against the int16 saturation of its
# u8s8 kernels on CPUs without VNNI; per-channel scales win back the lost bit. Quantising the
# word-embedding Gather as well keeps the same cosine and shrinks the file from 406 to 118 MB.
_QUANTIZATION: dict[str, Any] = {"per_channel": True, "reduce_range": True}
# The fp32 graph is quantised as exported. Also tried: ORT's offline optimisation first (level
# "extended"), quant_pre_process (without symbolic shape inference, which fails on this graph)
# and onnxruntime.transformers' BERT fusion. All keep cosine 0.997 / 0.994-0.995 and were within
# ~1 ms of each other (int8, 1 thread, p50 10.1-12.1 ms; this machine's speed drifts more than
# that), but "extended" moved one development query from rank 1 to 2: dev MRR@10 0.911 against
# 0.928 for torch, fp32 ONNX and this recipe, more than the 0.01 allowed. Timed again in
# alternation, BERT fusion saves ~8 % (14.1 -> 13.0 ms) but costs the same: dev hybrid MRR@10
# 0.950 against 0.967 for torch queries. So none is used.
_MIN_COSINE_FP32 = 0.9999
_MIN_COSINE_INT8 = 0.98
_WEIGHT_SUFFIXES = (".safetensors", ".bin")
# The traced example must contain padding, or the mask handling could be traced away; the check
# batch differs in size and length from it, so a shape frozen into the graph would show.
_TRACE_TEXTS = ("query: Qui a été élu Président d'INTERPOL ?", "query: ID-Art")
_CHECK_TEXTS = (
    "query: Qui a été élu Président d'INTERPOL ?",
    "passage: L’Assemblée générale a élu le nouveau président de l’Organisation pour un mandat de "
    "quatre ans, lors de sa 89e session à Istanbul.",
    "query: How many member countries does INTERPOL have?",
    "query: operación contra el tráfico de armas",
)


class OnnxExportError(RuntimeError):
    """The ONNX model could not be exported or used; the message says what to do about it."""


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


def export_query_encoder(model: ResolvedModel, backend: QueryBackend) -> Path | None:
    """The ONNX file ``backend`` encodes queries with, exported if needed (see
    :func:`export_onnx`); None when queries go through torch or the model is only a hub name."""
    if backend is QueryBackend.TORCH or model.local_path is None:
        return None
    return export_onnx(model.local_path, quantize=backend is QueryBackend.ONNX_INT8)


def export_onnx(model_dir: Path, quantize: bool = True) -> Path:
    """Return ``model_dir/onnx/model-int8.onnx`` (or ``model.onnx``), exporting it if needed.

    The export takes 35-90 s (idle or loaded 2-core machine) and ~3.6 GB of memory, once; then
    this is a stat of the source files and a read of ``export.json``. Concurrent callers may both
    export: the first rename wins and the others discard their copy.
    """
    model_dir = Path(model_dir)
    layout = read_layout(model_dir)
    target = model_dir / ONNX_DIR
    result = target / (INT8_FILE if quantize else FP32_FILE)
    stats = _source_stats(layout.transformer_dir)
    # Before the early return too: once an export is current, nothing else would ever remove
    # what a killed export left behind.
    # Leftovers of killed exports (up to 1.5 GB each); recent ones may be live exports.
    remove_stale_folders(model_dir, ".onnx-*")
    if _is_current(target, layout.transformer_dir, stats, quantize):
        return result
    if target.exists() and not (target / MANIFEST).is_file():
        raise OnnxExportError(
            f"{target} exists but was not made by report-search (no {MANIFEST}). Move it away "
            "so the query encoder can export its own ONNX files there."
        )
    try:
        staging = Path(tempfile.mkdtemp(prefix=".onnx-", suffix=".tmp", dir=model_dir))
    except OSError as exc:
        raise OnnxExportError(
            f"cannot write the ONNX export into {model_dir} ({exc}). Make the folder writable, "
            "or export once as a user who can write it."
        ) from exc
    logger.info("Exporting %s to ONNX (one-off, under two minutes)", layout.transformer_dir)
    try:
        started = time.perf_counter()
        record = _build(layout, staging, quantize)
        record["source"] = {"sha256": _sha256(layout.transformer_dir, stats), "files": stats}
        record["exported_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        record["export_seconds"] = round(time.perf_counter() - started, 1)
        record["outputs"] = _output_sizes(staging)
        _write_manifest(staging / MANIFEST, record)
        staging.chmod(0o755)  # mkdtemp's 0700 would hide a shared cache from other users
        if not replace_folder(
            staging,
            target,
            is_current=lambda: _is_current(target, layout.transformer_dir, stats, quantize),
            ours=lambda: (target / MANIFEST).is_file(),
        ):
            raise OnnxExportError(f"cannot move the ONNX export into {target}; retry.")
    except OnnxExportError:
        raise
    except ImportError as exc:
        raise OnnxExportError(
            f"the ONNX export needs {exc.name or 'a package'} ({exc}): "
            "pip install torch transformers onnx onnxruntime"
        ) from exc
    except Exception as exc:  # torch, onnx and onnxruntime raise many types; disk may be full
        raise OnnxExportError(
            f"exporting {layout.transformer_dir} to ONNX failed ({exc!r}). It needs about 1.5 GB "
            f"free in {model_dir} and 4 GB of memory; if both are there, use the "
            "sentence-transformers Encoder and report the torch, onnx and onnxruntime versions."
        ) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("ONNX export ready in %s (cosine to torch: %s)", target, record["verification"])
    return result


def _build(layout: ModelLayout, staging: Path, quantize: bool) -> dict[str, Any]:
    """Export, quantise and verify into ``staging``; returns the manifest without the source."""
    torch_model, names = _load_torch_model(layout)
    tokenizer = layout.load_tokenizer()
    example, check = (
        model_inputs([tokenizer.encode(text) for text in texts], names, layout.pad_token_id)
        for texts in (_TRACE_TEXTS, _CHECK_TEXTS)
    )
    _export(torch_model, names, example, staging / FP32_FILE)
    if quantize:
        _quantize(staging / FP32_FILE, staging / INT8_FILE)
    verification = _verify(torch_model, staging, check, quantize)
    return {**_expected(), "quantized": quantize, "inputs": names, "verification": verification}


def _load_torch_model(layout: ModelLayout) -> tuple[Any, list[str]]:
    """The transformer in float32 with plain (eager) attention, and the inputs it will take."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    try:
        # Eager attention traces to plain MatMul/Softmax, which ORT fuses and quantises; the
        # SDPA path bakes Python-level decisions about the mask into the trace.
        model = AutoModel.from_pretrained(
            layout.transformer_dir,
            attn_implementation="eager",
            dtype=torch.float32,
            local_files_only=True,
        ).eval()
    except Exception as exc:  # transformers raises many types for a bad folder
        raise OnnxExportError(
            f"cannot load the transformer in {layout.transformer_dir} for ONNX export: {exc}. "
            "Provision the model again (delete its folder) or fix REPORT_MODEL."
        ) from exc
    accepted = inspect.signature(model.forward).parameters
    names = ["input_ids", "attention_mask"]
    if layout.token_type_ids and "token_type_ids" in accepted:
        names.append("token_type_ids")
    return model, names


def _export(model: Any, names: list[str], example: dict[str, np.ndarray], path: Path) -> None:
    """Trace with the classic exporter (opset 17, dynamic batch and sequence axes)."""
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.model(**dict(zip(names, inputs, strict=True))).last_hidden_state

    axes = {name: {0: "batch", 1: "sequence"} for name in [*names, OUTPUT_NAME]}
    args = tuple(torch.from_numpy(example[name]) for name in names)
    # The exporter warns about its own deprecation and about shape checks it freezes in the
    # trace; _verify runs the graph at another batch size and length, which is what matters.
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            # The exporter restores the wrapper's mode afterwards: a new module is in training
            # mode, which would leave dropout on in the model used by _verify.
            LastHiddenState().eval(),
            args,
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=names,
            output_names=[OUTPUT_NAME],
            dynamic_axes=axes,
        )


def _quantize(source: Path, target: Path) -> None:
    """Dynamic int8: weights int8 per channel, activations quantised at run time."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _without_preprocessing_advice():
        quantize_dynamic(source, target, weight_type=QuantType.QInt8, **_QUANTIZATION)


class _PreprocessingAdvice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


@contextlib.contextmanager
def _without_preprocessing_advice() -> Iterator[None]:
    """Silence ONNX Runtime's advice to pre-process the graph before quantising, which it
    logs on the root logger at every export and which reads like a fault to a user.
    Following it cost 0.017 dev MRR at the same speed (BENCHMARKS.md). A handler is lent to the
    root logger meanwhile: ``logging.warning`` would otherwise install one for good."""
    root = logging.getLogger()
    advice, lent = _PreprocessingAdvice(), logging.NullHandler()
    root.addFilter(advice)
    if not root.handlers:
        root.addHandler(lent)
    try:
        yield
    finally:
        root.removeFilter(advice)
        root.removeHandler(lent)


def _verify(
    torch_model: Any, staging: Path, check: dict[str, np.ndarray], quantize: bool
) -> dict[str, float]:
    """Compare the ONNX files with torch on a padded batch of another shape than the trace's."""
    import onnxruntime as ort
    import torch

    with torch.inference_mode():
        hidden = torch_model(**{k: torch.from_numpy(v) for k, v in check.items()}).last_hidden_state
    expected = mean_pool(hidden.numpy(), check["attention_mask"])
    files = {"fp32": FP32_FILE, **({"int8": INT8_FILE} if quantize else {})}
    cosines: dict[str, float] = {}
    for kind, name in files.items():
        session = ort.InferenceSession(str(staging / name), providers=["CPUExecutionProvider"])
        (output,) = session.run([OUTPUT_NAME], check)
        found = mean_pool(output, check["attention_mask"])
        cosines[kind] = round(float((found * expected).sum(axis=1).min()), 6)
    thresholds = {"fp32": _MIN_COSINE_FP32, "int8": _MIN_COSINE_INT8}
    failed = {kind: value for kind, value in cosines.items() if value < thresholds[kind]}
    if failed:
        raise OnnxExportError(
            f"the ONNX export does not reproduce the torch model (min cosine {failed}, needed "
            f"{thresholds}). Use the sentence-transformers Encoder for this model and report "
            "the torch, onnx and onnxruntime versions."
        )
    return cosines


def _expected() -> dict[str, Any]:
    """What an export must have been made with to be reused (source files aside)."""
    return {
        "recipe_version": _RECIPE_VERSION,
        "opset": OPSET,
        "quantization": _QUANTIZATION,
        **{name: importlib.metadata.version(name) for name in ("torch", "onnx", "onnxruntime")},
    }


def _is_current(
    target: Path, transformer_dir: Path, stats: dict[str, list[int]], quantize: bool
) -> bool:
    """Whether ``target`` holds the wanted files, made from these weights with these tools."""
    manifest = _read_manifest(target / MANIFEST)
    if manifest is None:
        return False
    if any(manifest.get(key) != value for key, value in _expected().items()):
        return False
    if quantize and not manifest.get("quantized"):
        return False
    files = [FP32_FILE, INT8_FILE] if quantize else [FP32_FILE]
    if not all((target / name).is_file() for name in files):
        return False
    # A file cut short (an interrupted copy of the cache) would fail to load at every start,
    # and the service would quietly fall back to the slower encoder.
    if manifest.get("outputs") != _output_sizes(target):
        return False
    source = manifest["source"]
    # Same sizes and mtimes: trust the recorded checksum rather than re-reading ~0.5 GB.
    if source["files"] == stats:
        return True
    if source["sha256"] != _sha256(transformer_dir, stats):
        return False
    _record_stats(target / MANIFEST, manifest, stats)
    return True


def _read_manifest(path: Path) -> dict[str, Any] | None:
    """``export.json`` if it has the shape this module writes, else None.

    An empty or cut-short manifest (a full disk, an interrupted copy of the cache) only means
    the export is redone, like a cut-short ONNX file: the folder is ours to replace.
    """
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    source = manifest.get("source") if isinstance(manifest, dict) else None
    if not isinstance(source, dict):
        return None
    if not isinstance(source.get("sha256"), str) or not isinstance(source.get("files"), dict):
        return None
    return manifest


def _record_stats(path: Path, manifest: dict[str, Any], stats: dict[str, list[int]]) -> None:
    """Record the source files' new sizes and mtimes once their checksum has matched.

    A copy of the model folder that did not keep file times would otherwise hash ~0.5 GB again
    at every start. A folder that cannot be written (a read-only shared cache) keeps working:
    only slower.
    """
    try:
        _write_manifest(path, {**manifest, "source": {**manifest["source"], "files": stats}})
    except OSError as exc:
        logger.info("cannot record the model files' new times in %s (%s)", path, exc)


def _write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Write ``export.json`` aside and rename it into place: a reader never sees half of it."""
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    partial = Path(name)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(manifest, indent=2) + "\n")
        fsync_file(partial)
        partial.chmod(0o644)  # mkstemp's 0600 would hide a shared cache's manifest from others
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)  # only left when something failed before the rename


def _output_sizes(folder: Path) -> dict[str, int]:
    """Size of each ONNX file of an export, recorded in its manifest and checked at use."""
    return {path.name: path.stat().st_size for path in sorted(folder.glob("*.onnx"))}


def _source_stats(transformer_dir: Path) -> dict[str, list[int]]:
    """Size and mtime of the files the graph is made from (config and weights)."""
    weights = sorted(
        path.name for path in transformer_dir.iterdir() if path.suffix in _WEIGHT_SUFFIXES
    )
    if not weights:
        raise OnnxExportError(
            f"{transformer_dir} has no weights (*.safetensors or *.bin). Provision the model "
            "again (delete its folder) or fix REPORT_MODEL."
        )
    stats = {}
    for name in ["config.json", *weights]:
        status = (transformer_dir / name).stat()
        stats[name] = [status.st_size, status.st_mtime_ns]
    return stats


def _sha256(transformer_dir: Path, stats: dict[str, list[int]]) -> str:
    """One digest over the source files, in name order."""
    digest = hashlib.sha256()
    for name in sorted(stats):
        path = transformer_dir / name
        if not path.is_file():
            return ""
        digest.update(name.encode())
        hash_file(digest, path)
    return digest.hexdigest()


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
