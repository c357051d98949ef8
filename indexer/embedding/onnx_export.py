"""Export a sentence-transformers model's transformer to ONNX, in float32 and dynamic int8.

Why: a short query takes ~41 ms in sentence-transformers (torch fp32) on this idle 2-core machine
and ~10 ms in ONNX Runtime int8. sentence-transformers' own ``backend="onnx"`` cannot be installed
next to transformers 5 (its optimum-onnx extra pins transformers < 4.58), so the transformer is
exported here with the classic ``torch.onnx.export`` and pooled in numpy by the caller
(``onnx_layout`` says how the graph is fed and pooled).

Layout: ``<model>/onnx/{model.onnx, model-int8.onnx, export.json}``. Everything is written into a
temporary folder inside the model folder and renamed into place, so ``onnx/`` is always complete.
``export.json`` (``onnx_manifest``) says what the files were made from and with; when it matches,
``export_onnx`` returns without importing torch. Only the provisioned folder is needed: export
works offline.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import inspect
import logging
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from indexer.embedding.files import remove_stale_folders, replace_folder
from indexer.embedding.onnx_layout import (
    OUTPUT_NAME,
    ModelLayout,
    OnnxExportError,
    mean_pool,
    model_inputs,
    read_layout,
)
from indexer.embedding.onnx_manifest import (
    MANIFEST,
    SourceStats,
    is_current,
    output_sizes,
    source_record,
    source_stats,
    write_manifest,
)
from indexer.settings import QueryBackend

if TYPE_CHECKING:
    from indexer.embedding.model import ResolvedModel

logger = logging.getLogger(__name__)

ONNX_DIR = "onnx"
FP32_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
OPSET = 17

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
    stats = source_stats(layout.transformer_dir)
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
        record["source"] = source_record(layout.transformer_dir, stats)
        record["exported_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        record["export_seconds"] = round(time.perf_counter() - started, 1)
        record["outputs"] = output_sizes(staging)
        write_manifest(staging / MANIFEST, record)
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


def _is_current(target: Path, transformer_dir: Path, stats: SourceStats, quantize: bool) -> bool:
    """Whether ``target`` holds the wanted files, made from these weights with these tools."""
    # An int8 export holds the float32 graph too, so it serves both.
    expected = {**_expected(), **({"quantized": True} if quantize else {})}
    files = [FP32_FILE, INT8_FILE] if quantize else [FP32_FILE]
    return is_current(target, transformer_dir, stats, expected, files)
