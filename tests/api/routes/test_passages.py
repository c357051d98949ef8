"""GET /passages/{id}: a passage by id and its neighbours in reading order."""

from __future__ import annotations

from urllib.parse import quote


def test_passage_by_id(client, searcher):
    passage = searcher.index.passages[10]
    response = client.get(f"/passages/{passage.id}")
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "id": passage.id,
        "document": passage.document,
        "page": passage.page,
        "section": passage.section,
        "sections": list(passage.sections),
        "chapters": list(passage.chapters),
        "text": passage.text,
        "lang": passage.lang,
        "source_urls": list(passage.source_urls),
        "position": passage.position,
        "previous": [],
        "next": [],
    }


def test_a_passage_id_is_read_as_a_document_id_is(client, searcher):
    """In any case and without invisible characters, as /documents reads ids: a model that
    retyped an id in capitals, or pasted one with a zero-width space, got a 404."""
    passage = searcher.index.passages[10]
    for typed in (passage.id.upper(), f"\u200b{passage.id}"):
        response = client.get(f"/passages/{quote(typed)}")
        assert response.status_code == 200 and response.json()["id"] == passage.id


def test_unknown_passage_is_a_readable_404(client):
    response = client.get("/passages/no-such-passage")
    assert response.status_code == 404
    assert "no-such-passage" in response.json()["detail"]
    long = client.get("/passages/" + "x" * 5000).json()["detail"]
    assert "x" * 80 + "…" in long and len(long) < 300


def test_neighbours_are_the_passages_around_in_reading_order(client, searcher):
    passages = searcher.index.passages
    middle = passages[20]
    body = client.get(f"/passages/{middle.id}", params={"neighbours": 2}).json()
    assert [p["id"] for p in body["previous"]] == [p.id for p in passages[18:20]]
    assert [p["id"] for p in body["next"]] == [p.id for p in passages[21:23]]
    assert [p["position"] for p in body["previous"]] == [middle.position - 2, middle.position - 1]
    first = client.get(f"/passages/{passages[0].id}", params={"neighbours": 5}).json()
    assert first["previous"] == [] and len(first["next"]) == 5
    last = client.get(f"/passages/{passages[-1].id}", params={"neighbours": 1}).json()
    assert len(last["previous"]) == 1 and last["next"] == []
    too_many = client.get(f"/passages/{middle.id}", params={"neighbours": 6})
    assert too_many.status_code == 422 and "neighbours" in too_many.json()["detail"]
