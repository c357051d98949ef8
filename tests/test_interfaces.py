"""The same bad request is refused in the same words over HTTP, MCP and the command line."""

from __future__ import annotations

from functools import partial

import anyio
import pytest
from mcp.client import Client
from typer.testing import CliRunner

from indexer.settings import Settings
from service.cli import app as search_app
from service.engine import SearchEngine
from service.mcp_server import build_mcp_server
from service.searcher import Searcher
from service.state import ServiceState

# (filters as the API and MCP take them, as CLI options, the refusal every interface gives)
BAD_FILTERS = [
    ({"section": " "}, ["--section", " "], "section: must not be blank; leave the filter out"),
    # Invisible characters alone are blank too, as in a query.
    ({"section": "\u200b"}, ["--section", "\u200b"], "section: must not be blank; leave"),
    ({"document": ""}, ["--document", ""], "document: must not be blank; leave the filter out"),
    ({"section": "a\x01"}, ["--section", "a\x01"], "the value of 'section' contains control"),
    ({"section": "x" * 201}, ["--section", "x" * 201], "section: String should have at most 200"),
    ({"lang": "french"}, ["--lang", "french"], "lang: String should be a language code"),
    (
        {"page_min": 3, "page_max": 2},
        ["--page-min", "3", "--page-max", "2"],
        "page_min: 3 is after page_max (2)",
    ),
]


@pytest.fixture(scope="module")
def mcp_state(settings: Settings, searcher: Searcher) -> ServiceState:
    state = ServiceState(partial(SearchEngine.configured, settings=settings))
    state.serve(searcher)
    return state


@pytest.mark.parametrize(("options", "cli", "said"), BAD_FILTERS)
def test_bad_filters_get_the_same_refusal_everywhere(client, mcp_state, options, cli, said):
    http = client.post("/search", json={"query": "HAECHI", **options})
    assert http.status_code == 422 and http.json()["detail"].startswith(said), http.json()

    async def call() -> str:
        async with Client(build_mcp_server(mcp_state)) as mcp:
            result = await mcp.call_tool("search_report", {"query": "HAECHI", **options})
            assert result.is_error
            return result.content[0].text

    assert said in anyio.run(call)

    # Refused before the model loads: no index is given, and none is needed to say why.
    command = CliRunner().invoke(search_app, ["query", "HAECHI", *cli, "--index", "/nowhere"])
    assert command.exit_code == 1 and said in command.output, command.output


def test_a_query_too_long_gets_the_same_refusal_everywhere(client, mcp_state):
    query = "a" * 1001
    said = "query: String should have at most 1000 characters"
    http = client.post("/search", json={"query": query})
    assert http.status_code == 422 and http.json()["detail"] == said

    async def call() -> str:
        async with Client(build_mcp_server(mcp_state)) as mcp:
            result = await mcp.call_tool("search_report", {"query": query})
            assert result.is_error
            return result.content[0].text

    assert said in anyio.run(call)
    command = CliRunner().invoke(search_app, ["query", query, "--index", "/nowhere"])
    assert command.exit_code == 1 and said in command.output, command.output


def test_a_query_the_search_refuses_is_refused_as_a_field_everywhere(client, mcp_state):
    """Named by its field, as every refused field is: the search page tells from "q: " that
    the query is at fault, and said it at the box only for an empty or long one."""
    said = "the query has no letters or digits to search for"
    got = client.get("/search", params={"q": "???"}).json()
    assert got["detail"] == f"q: {said}" and got["errors"][0]["loc"] == ["query", "q"]
    assert client.post("/context", json={"query": "???"}).json()["detail"] == f"query: {said}"

    async def call() -> str:
        async with Client(build_mcp_server(mcp_state)) as mcp:
            result = await mcp.call_tool("search_report", {"query": "???"})
            assert result.is_error
            return result.content[0].text

    assert anyio.run(call) == f"query: {said}"
    command = CliRunner().invoke(search_app, ["query", "???", "--index", "/nowhere"])
    assert command.exit_code == 1 and said in command.output, command.output


def test_a_number_that_is_not_an_integer_gets_the_same_refusal_everywhere(client, mcp_state):
    """JSON bodies and MCP arguments take JSON integers; a URL takes digits only."""
    said = "k: Input should be a valid integer"
    for k in (2.0, "2", True):
        http = client.post("/search", json={"query": "HAECHI", "k": k})
        assert http.status_code == 422 and http.json()["detail"] == said, (k, http.json())

    async def call() -> str:
        async with Client(build_mcp_server(mcp_state)) as mcp:
            result = await mcp.call_tool("search_report", {"query": "HAECHI", "k": 2.0})
            assert result.is_error
            return result.content[0].text

    assert "Input should be a valid integer" in anyio.run(call)
    passage_id = client.get("/search", params={"q": "HAECHI", "k": 1}).json()["results"][0]
    for neighbours in ("+2", " 2", "0_2", "2.0"):
        got = client.get(f"/passages/{passage_id['passage_id']}", params={"neighbours": neighbours})
        assert got.status_code == 422, neighbours
        assert (
            got.json()["detail"] == "neighbours: Input should be a whole number written in digits"
        )


def test_a_query_that_is_not_unicode_gets_the_same_refusal_everywhere(client):
    said = "the query is not valid Unicode (it contains an unpaired surrogate)"
    http = client.post(
        "/search", content=b'{"query": "caf\\udce9"}', headers={"content-type": "application/json"}
    )
    assert http.status_code == 422 and http.json()["detail"] == said, http.json()
    # A byte that is not UTF-8 in a command line reaches Python as a lone surrogate.
    command = CliRunner().invoke(search_app, ["query", "caf\udce9", "--index", "/nowhere"])
    assert command.exit_code == 1 and said in command.output, command.output
