"""How do FAISS index types scale from 10k to 1M passages on this machine?

The service stores 384-d, L2-normalised e5 vectors in an exact ``IndexFlatIP``. Exact search
costs one pass over every vector per query, so latency grows linearly with the corpus; graph
(HNSW) and inverted-file (IVF) indexes trade a little recall for sub-linear search. This
benchmark measures that trade on corpora of increasing size so that the switch from exact to
approximate search can be made on numbers rather than folklore:

* build time, memory (serialized bytes and process RSS growth),
* single-query latency p50/p95/p99 at k=10 with 1 and 2 FAISS threads (the service answers
  one query at a time, so batch throughput would flatter every index),
* recall@10 against exact search.

Why synthetic data, and why this shape: uniform random vectors on the 384-d sphere have no
neighbourhood structure, so every query is equidistant from everything and ANN results say
nothing about text. Real e5 embeddings are strongly anisotropic (pairwise cosines around
0.75-0.85 because all vectors share a dominant direction), clustered by topic at several
scales, and locally low-dimensional (local intrinsic dimension ~20). The generator
reproduces those properties with a fixed seed; queries are corpus points pushed *along their
cluster's manifold* further than the cluster's own spread, so that, as with real queries, the
query is not a near-duplicate of one passage and its top-10 is a genuine neighbourhood.
``data_profile`` in the JSON output records the statistics so the claim can be checked, and
if a real index exists (``--real-index``) its statistics are recorded beside them.

Run (23 minutes measured on 2 cores shared with other jobs)::

    .venv/bin/python -m bench.ann_scale --sizes 10000 100000 1000000 --queries 1000 \
        --out bench/results
"""
