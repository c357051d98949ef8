"""Retrieval pieces the searcher combines: keyword scores (BM25), filters, and how
dense and keyword evidence are fused into one ranking (``ranking``)."""
