"""Query encoder on ONNX Runtime: ``Encoder.encode_queries``' vectors, several times faster.

Why: serving embeds one short query per request. On this 2-core machine, idle, one query takes
~41 ms in sentence-transformers (torch fp32) and ~10 ms through the dynamically quantised int8
graph, whose vectors keep a cosine of 0.997 on average (0.995 at worst) to torch's on the
development queries. A process that only loads the int8 encoder starts in ~2 s and peaks at
~0.5 GB, without importing torch (bench/encoder_speed.py).
Passages are still embedded by ``Encoder``; only queries go through here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from indexer.embedding.model import ModelIdentity, ResolvedModel
from indexer.embedding.onnx_export import export_onnx
from indexer.embedding.onnx_layout import (
    OUTPUT_NAME,
    OnnxExportError,
    mean_pool,
    model_inputs,
    read_layout,
)

# One intra-op thread. Measured with int8, one query at a time: on an idle machine two threads
# cut p50 latency only from 9.8 to 9.2 ms for 45 % more CPU per query (10.1 -> 14.6 ms), and
# raise batches of 16 from 88 to 104 q/s; as soon as the other core is busy (web server,
# ranking, other processes) two threads are slower: 20.6 against 16.5 ms p50.
DEFAULT_THREADS = 1


class OnnxQueryEncoder:
    """Embeds queries as L2-normalised float32 vectors, like ``Encoder.encode_queries``.

    The ONNX files are exported into the model folder on first use (35-90 s, once).
    ``encode_queries`` may be called from several threads at once: the ONNX Runtime session
    and the tokenizer are only read, and every call works on its own arrays.

    With ``quantized`` (the default), each query runs on its own: dynamic int8 quantisation
    scales activations over the whole input tensor, so in a padded batch a query's vector would
    depend on the other queries (cosine 0.997 on average, 0.995 at worst, to its vector alone),
    and so would rankings and cached results on traffic. It costs no measurable throughput here
    (16 queries: 110 q/s one by one, 108 q/s padded). The float32 graph runs the padded batch,
    which is exact.
    """

    def __init__(
        self, model: ResolvedModel, quantized: bool = True, threads: int | None = None
    ) -> None:
        if model.local_path is None:
            raise OnnxExportError(
                f"the ONNX query encoder needs a local model folder, not {model.location!r} "
                "(a hub name). Set REPORT_MODEL to a folder, or use the sentence-transformers "
                "Encoder."
            )
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be at least 1, not {threads}")
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise OnnxExportError(
                "the ONNX query encoder needs onnxruntime (and onnx to export): "
                "pip install onnxruntime onnx"
            ) from exc

        layout = read_layout(model.local_path)
        self.onnx_path: Path = export_onnx(model.local_path, quantize=quantized)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or DEFAULT_THREADS
        options.inter_op_num_threads = 1
        # Idle workers would otherwise spin for a while after each query, taking a core from the
        # web server and from concurrent requests on a 2-core machine.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self._session = ort.InferenceSession(
                str(self.onnx_path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own unexported exception types
            raise OnnxExportError(
                f"cannot load {self.onnx_path} ({exc}). Delete {self.onnx_path.parent} to have "
                "it exported again."
            ) from exc
        self._input_names = [node.name for node in self._session.get_inputs()]
        self._tokenizer = layout.load_tokenizer()
        self._pad_token_id = layout.pad_token_id
        # int8 runs queries one by one (see the class docstring); fp32 runs the padded batch.
        self.batches_queries = not quantized
        self.identity: ModelIdentity = model.identity
        self.location = model.location
        self.path: Path | None = model.local_path
        self.dimension: int = layout.dimension

    def encode_queries(self, queries: list[str]) -> np.ndarray:
        """Vectors for search queries (with the query prompt prepended, as Encoder does)."""
        if not queries:
            return np.zeros((0, self.dimension), dtype=np.float32)
        prompt = self.identity.query_prompt
        encodings = [self._tokenizer.encode(prompt + query) for query in queries]
        batches = [encodings] if self.batches_queries else [[encoding] for encoding in encodings]
        vectors = []
        for batch in batches:
            inputs = model_inputs(batch, self._input_names, self._pad_token_id)
            (hidden,) = self._session.run([OUTPUT_NAME], inputs)
            vectors.append(mean_pool(hidden, inputs["attention_mask"]))
        return np.vstack(vectors)
