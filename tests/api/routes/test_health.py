"""/healthz, /readyz and /stats on a loaded index."""

from __future__ import annotations


def test_health_ready_and_stats(client, searcher):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    stats = client.get("/stats").json()
    assert stats["passages"] == len(searcher.index.passages) > 50
    assert stats["documents"][0]["id"] == "interpol-2021-fr"
    # The report's own address, from its metadata file: where a citation points a reader.
    assert stats["documents"][0]["source_url"] == "https://www.interpol.int/fr"
    assert stats["model"]["dimension"] == 384
    assert stats["model"]["name"] == "intfloat/multilingual-e5-small"
    assert (searcher.encoder.path / "config.json").exists()
    assert stats["model"]["path"] == str(searcher.encoder.path)
    assert stats["query_languages"] == ["ar", "de", "en", "es", "fr"]
