"""``POST /admin/reload``'s request: what it takes (the reload itself: tests/test_reload.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from indexer.settings import Settings
from service.api.app import create_app
from service.searcher import Searcher

TOKEN = "admin-token-for-tests"
ADMIN = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def admin_client(settings: Settings, searcher: Searcher) -> Iterator[TestClient]:
    with TestClient(
        create_app(settings.model_copy(update={"admin_token": SecretStr(TOKEN)}), searcher)
    ) as client:
        yield client


def test_a_reload_refuses_a_version_asked_for_and_says_how_to_choose_one(admin_client):
    """A body was ignored: ``{"version": …}`` got a 200 that reloaded the current version."""
    asked = admin_client.post("/admin/reload", json={"version": "v000001"}, headers=ADMIN)
    assert asked.status_code == 422
    detail = asked.json()["detail"]
    assert detail.startswith(
        "unknown field 'version' in the JSON body of POST /admin/reload; it takes none. "
    )
    assert "`report-index rollback VERSION`" in detail
    # Named as /search names an unknown field, for programs too.
    assert asked.json()["errors"] == [
        {
            "loc": ["body", "version"],
            "msg": "Extra inputs are not permitted",
            "type": "extra_forbidden",
            "input": "v000001",
        }
    ]
    listed = admin_client.post("/admin/reload", json=["v000001"], headers=ADMIN)
    assert listed.status_code == 422 and listed.json()["errors"][0]["loc"] == ["body"]
    # The advice answers an unknown field, not a body of the wrong shape.
    assert "rollback" not in listed.json()["detail"]
    text = admin_client.post("/admin/reload", content=b"v000001", headers=ADMIN)
    assert text.status_code == 415
    # A query parameter is no way to choose either: not "a POST takes its options in the body".
    query = admin_client.post("/admin/reload", params={"version": "v1"}, headers=ADMIN)
    assert query.status_code == 422 and "JSON body" not in query.json()["detail"]
    assert "`report-index rollback VERSION`" in query.json()["detail"]


def test_a_body_is_looked_at_only_with_the_admin_token(admin_client):
    refused = admin_client.post("/admin/reload", json={"version": "v000001"})
    assert refused.status_code == 401
    looked_at = admin_client.post("/admin/reload", json={"version": "v000001"}, headers=ADMIN)
    assert looked_at.status_code == 422
    assert [e["loc"] for e in looked_at.json()["errors"]] == [["body", "version"]]


@pytest.mark.parametrize("blank", [b"", b"\n", b" \r\n\t"])
def test_a_blank_body_is_no_body(admin_client, blank):
    """Some clients send a line break for no body: it got 400 "not valid JSON"."""
    sent = {"content-type": "application/json", **ADMIN}
    reloaded = admin_client.post("/admin/reload", content=blank, headers=sent)
    assert reloaded.status_code == 200, reloaded.text
