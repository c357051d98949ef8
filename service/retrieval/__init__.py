"""Retrieval pieces the searcher combines: the query read and checked (``query``, its
language in ``query_language``), keyword scores (``keyword``, BM25), nearest passages in the
vector index (``nearest``), filters (``filters``), the reports' languages (``report_languages``),
how dense and keyword evidence are fused into one ranking (``ranking``), near-duplicates kept
out of one result list (``distinct``) and the sentences that show why a passage matched
(``highlight``)."""
