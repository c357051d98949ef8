"""The MCP server through the SDK's own client: stdio (the CLI) and streamable HTTP (the app)."""

from __future__ import annotations

import dataclasses
import functools
import gzip
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp_types import PARSE_ERROR, jsonrpc_message_adapter
from pydantic import ValidationError

from indexer.settings import Settings
from service.api.app import create_app
from service.context import MAY_NOT_ANSWER, build_context
from service.engine import SearchEngine
from service.mcp_errors import parse_error
from service.mcp_server import build_mcp_server, format_results
from service.searcher import Searcher, SearchResult
from service.state import ServiceState
from service.tool_definition import SearchReportArguments
from tests.conftest import QUESTION, live_server, mcp_initialize

REPORT_SEARCH = Path(sys.executable).parent / "report-search"
# What a call whose arguments are a list gets, over both transports: the SDK's answer was
# "Invalid request parameters" with empty data.
NOT_AN_OBJECT = (
    "the arguments of search_report must be a JSON object naming each argument, such as "
    '{"query": …}; got a list'
)
# What the model and its libraries read from the environment; the stdio client passes on
# only a minimal environment unless told otherwise.
PASSED_ON = ("REPORT_", "HF_", "TRANSFORMERS_", "SENTENCE_TRANSFORMERS_", "XDG_", "TORCH")


async def _exercise(client: Client) -> None:
    """What every transport must do: list the tools and answer the election question."""
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert {"search_report", "get_passage"} <= set(tools)
    search_tool = tools["search_report"]
    assert search_tool.input_schema["required"] == ["query"]
    # What a model reads: no line breaks and indentation of a Python docstring.
    assert "\n" not in tools["get_passage"].description
    # The loaded report is named, as the HTTP tool definition names it; no stray arguments.
    assert "'INTERPOL — Rapport annuel 2021' (id interpol-2021-fr, language fr)" in (
        search_tool.description
    )
    # One report in one language: neither document nor lang to choose; the HTTP tool's schema.
    offered = set(SearchReportArguments.model_fields) - {"document", "lang"}
    assert set(search_tool.input_schema["properties"]) == offered
    assert search_tool.input_schema["additionalProperties"] is False

    result = await client.call_tool("search_report", {"query": QUESTION, "k": 3})
    assert not result.is_error
    context = result.structured_content
    top = context["citations"][0]
    assert "Al Raisi" in context["context"] and context["query_lang"] == "en"
    assert any("interpol.int" in url for url in top["source_urls"])
    text = result.content[0].text
    assert context["context"] in text  # programs get the block the model reads
    assert f"[1] {top['section']} (p. {top['page']})" in text and "Al Raisi" in text
    assert f"[1] {top['passage_id']}: https://www.interpol.int/" in text

    narrowed = {"query": QUESTION, "k": 3, "page_min": 16, "page_max": 17, "section": "réforme"}
    filtered = await client.call_tool("search_report", narrowed)
    assert not filtered.is_error
    assert [c["page"] for c in filtered.structured_content["citations"]] == [16]
    reversed_pages = await client.call_tool("search_report", narrowed | {"page_min": 18})
    assert reversed_pages.is_error
    # The HTTP API's words, without the SDK's "Error executing tool …" before them.
    assert reversed_pages.content[0].text == "page_min: 18 is after page_max (17)"
    nothing = await client.call_tool("search_report", narrowed | {"section": "zzzz"})
    assert not nothing.is_error and nothing.content[0].text == (
        f"No passage matches {QUESTION!r} with section='zzzz', page_min=16, page_max=17: "
        "loosen or leave out a filter to search more of the reports."
    )
    budgeted = await client.call_tool("search_report", {"query": QUESTION, "max_chars": 600})
    assert not budgeted.is_error and "Al Raisi" in budgeted.content[0].text
    assert "more passages did not fit in max_chars=600" in budgeted.content[0].text
    assert len(budgeted.structured_content["context"]) <= 600
    # Without max_chars the budget is /context's: many passages do not all come whole.
    many = await client.call_tool("search_report", {"query": QUESTION, "k": 50})
    assert len(many.structured_content["context"]) <= 4000
    assert "did not fit in max_chars=4000" in many.content[0].text

    passage = await client.call_tool("get_passage", {"passage_id": top["passage_id"]})
    assert not passage.is_error
    assert "Al Raisi" in passage.structured_content["text"]
    assert passage.content[0].text.count(top["section"]) == 1  # its heading said once
    assert passage.structured_content["previous"] == passage.structured_content["next"] == []
    around = await client.call_tool(
        "get_passage", {"passage_id": top["passage_id"], "neighbours": 1}
    )
    assert not around.is_error
    before, after = around.structured_content["previous"], around.structured_content["next"]
    assert len(before) == len(after) == 1  # the election passage is mid-report
    text = around.content[0].text
    # Reading order: the one before, the one asked for (marked), the one after.
    assert text.index(before[0]["id"]) < text.index(f">>> {top['section']}")
    assert text.index(f">>> {top['section']}") < text.index(after[0]["id"])
    too_far = await client.call_tool(
        "get_passage", {"passage_id": top["passage_id"], "neighbours": 6}
    )
    assert too_far.is_error and "neighbours: Input should be less than or equal to 5" in (
        too_far.content[0].text
    )
    missing = await client.call_tool("get_passage", {"passage_id": "no-such-passage"})
    assert missing.is_error and "no-such-passage" in missing.content[0].text

    invalid = await client.call_tool("search_report", {"query": "x", "k": 999})
    assert invalid.is_error
    assert invalid.content[0].text == "k: Input should be less than or equal to 50"
    two = await client.call_tool("search_report", {"query": "", "k": 0})
    assert two.is_error and set(two.content[0].text.split("; ")) == {
        "query: the query is empty: type a question or keywords",
        "k: Input should be greater than or equal to 1",
    }
    # A JSON string or boolean is no number: true used to be read as k = 1.
    for wrong in (True, "3"):
        typed = await client.call_tool("search_report", {"query": QUESTION, "k": wrong})
        assert typed.is_error and typed.content[0].text.startswith(
            "k: Input should be a valid integer"
        )
    # Arguments left out (MCP makes them optional) are refused in the same plain words.
    bare = await client.call_tool("search_report")
    assert bare.is_error
    assert bare.content[0].text == "query: Field required"
    misspelt = await client.call_tool("search_report", {"query": QUESTION, "top_k": 3})
    assert misspelt.is_error
    assert misspelt.content[0].text == (
        "unknown argument 'top_k' for search_report; it takes 'query', 'k', 'lang', "
        "'document', 'section', 'page_min', 'page_max', 'max_chars'"
    )
    two = await client.call_tool("search_report", {"query": QUESTION, "top_k": 3, "n": 1})
    assert two.content[0].text.startswith("unknown arguments 'n', 'top_k' for search_report")
    blank = await client.call_tool("search_report", {"query": QUESTION, "lang": " "})
    assert blank.content[0].text == (
        "lang: must not be blank; leave the filter out to search everything"
    )
    english = await client.call_tool("search_report", {"query": QUESTION, "lang": "en"})
    assert english.is_error and "passages are in fr" in english.content[0].text

    documents = await client.read_resource("report://documents")
    assert '"interpol-2021-fr"' in documents.contents[0].text
    document = await client.read_resource("report://documents/interpol-2021-fr")
    assert "Al Raisi" in document.contents[0].text
    assert document.contents[0].text.count("ÉLECTION DU NOUVEAU PRÉSIDENT ET DE 11") == 1
    # The outline GET /documents/{id} serves, under the URI the document list gives.
    (listed,) = json.loads(documents.contents[0].text)
    outlined = await client.read_resource(listed["outline_uri"])
    sections = json.loads(outlined.contents[0].text)["sections"]
    election = next(s for s in sections if s["title"].startswith("ÉLECTION DU NOUVEAU"))
    assert election["page_first"] == 15 and len(election["passage_ids"]) == 1


@pytest.mark.parametrize(
    ("line", "code", "request_id"),
    [
        ("{bad", -32700, None),  # not JSON
        ('{"jsonrpc": "2.0", "id": 2, "method": "m", "params": {"q": "\\ud800"}}', -32700, 2),
        ('{"jsonrpc": "2.0", "id": 9, "method": 5}', -32600, 9),  # JSON, not JSON-RPC
        ("[1, 2]", -32600, None),
        # Deeper than Python's parser goes: it raised RecursionError, a 500 over HTTP and the
        # end of the stdio server.
        ('{"jsonrpc": "2.0", "id": 5, "method": "ping", "params": ' + "[" * 5000, -32700, None),
    ],
)
def test_a_line_the_transport_cannot_read_gets_the_answer_mcp_over_http_gives(
    line: str, code: int, request_id: int | None
) -> None:
    try:
        jsonrpc_message_adapter.validate_json(line, by_name=False)
    except ValidationError as exc:
        answer = parse_error(exc, "line")
    assert (answer.error.code, answer.id) == (code, request_id)


def test_stdio_server_answers_a_line_it_cannot_read(settings: Settings, index_dir: Path) -> None:
    """The SDK's stdio transport dropped such a line without a word: the client waited for
    an answer until it timed out. Now it gets a parse error, for its request id if any."""
    env = {k: v for k, v in os.environ.items() if k.startswith(PASSED_ON)}
    env |= {"REPORT_CACHE_DIR": str(settings.cache_dir), "REPORT_MODEL": settings.model}
    initialize = mcp_initialize("t")
    call = {"name": "search_report", "arguments": {"query": "président", "k": 1}}
    listed = {"name": "search_report", "arguments": ["budget"]}  # not an object
    lines = [
        json.dumps(initialize),
        json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        "{bad",
        # A lone surrogate: JSON that Python reads but the SDK's parser refuses.
        '{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": '
        '{"name": "search_report", "arguments": {"query": "abc \\ud800"}}}',
        json.dumps({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": call}),
        json.dumps({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": listed}),
    ]
    # stdin stays open until the last answer: at its end the server stops, cancelling calls.
    with subprocess.Popen(
        [str(REPORT_SEARCH), "mcp", "--index", str(index_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    ) as served:
        assert served.stdin is not None and served.stdout is not None
        # A line left unanswered would block the read below for ever: end the server instead.
        watchdog = threading.Timer(120, served.kill)
        watchdog.start()
        served.stdin.write("\n".join(lines) + "\n")
        served.stdin.flush()
        answers = [json.loads(served.stdout.readline()) for _ in range(5)]
        watchdog.cancel()
        served.stdin.close()
        served.wait(timeout=60)
    errors = [a for a in answers if "error" in a]
    assert [(e["id"], e["error"]["code"]) for e in errors] == [(None, -32700), (2, -32700)]
    assert "lone surrogates" in errors[1]["error"]["message"]
    assert not next(a for a in answers if a.get("id") == 3)["result"]["isError"]  # still serving
    not_an_object = next(a for a in answers if a.get("id") == 4)["result"]
    assert not_an_object["isError"]
    assert not_an_object["content"][0]["text"] == NOT_AN_OBJECT


def test_stdio_server_launched_from_the_cli(settings: Settings, index_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k.startswith(PASSED_ON)}
    env |= {"REPORT_CACHE_DIR": str(settings.cache_dir), "REPORT_MODEL": settings.model}
    params = StdioServerParameters(
        command=str(REPORT_SEARCH), args=["mcp", "--index", str(index_dir)], env=env
    )

    async def run() -> None:
        async with Client(params, read_timeout_seconds=120) as client:
            await _exercise(client)

    anyio.run(run)


@pytest.fixture(scope="module")
def http_url(settings: Settings, searcher: Searcher) -> Iterator[str]:
    """The app served by a real uvicorn on a free local port, in a thread."""
    with live_server(create_app(settings, searcher)) as url:
        yield f"{url}/mcp"


def test_streamable_http_server_mounted_in_the_app(http_url: str) -> None:
    async def run() -> None:
        async with Client(http_url) as client:
            await _exercise(client)

    anyio.run(run)


def test_over_several_reports_the_tool_names_them_and_document_chooses_one(
    settings: Settings, searcher: Searcher
) -> None:
    index = searcher.index
    (report,) = index.manifest.documents
    other = dataclasses.replace(report, id="europol-2022-en", title="Europol report 2022")
    manifest = dataclasses.replace(index.manifest, documents=(report, other))
    state = ServiceState(functools.partial(SearchEngine.configured, settings=settings))
    state.serve(Searcher(dataclasses.replace(index, manifest=manifest), searcher.encoder))

    async def run() -> None:
        async with Client(build_mcp_server(state)) as client:
            tool = {t.name: t for t in (await client.list_tools()).tools}["search_report"]
            assert "these reports ('INTERPOL — Rapport annuel 2021' (id interpol-2021-fr" in (
                tool.description
            )
            assert "'Europol report 2022' (id europol-2022-en" in tool.description
            document = tool.input_schema["properties"]["document"]
            assert document["enum"] == [report.id, other.id]
            # null means the default, as models that fill in every optional field send it.
            nulls = {"k": None, "lang": None, "page_min": None, "max_chars": None}
            result = await client.call_tool("search_report", {"query": QUESTION, **nulls})
            assert not result.is_error and len(result.structured_content["context"]) <= 4000
            assert len(result.structured_content["citations"]) == 5  # k's default
            refused = await client.call_tool("search_report", {"query": None})
            assert refused.is_error and "query: Input should be a valid string" in str(
                refused.content
            )
            context = result.structured_content["context"]
            assert context.startswith(f"From {report.title}")  # the quoted report's name
            assert f"\n[1] {report.title} — " in context
        await state.engine.close()

    anyio.run(run)


def test_tools_say_not_ready_while_the_index_loads() -> None:
    def make_engine(loaded: Searcher) -> SearchEngine:
        raise AssertionError("nothing is loaded in this test")

    state = ServiceState(make_engine)

    async def call() -> str:
        async with Client(build_mcp_server(state)) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            # Listed before the index loads, with the description that names no report, and
            # lang and document as free text: a client may keep this listing throughout.
            assert tools["search_report"].description.startswith("Search the indexed reports")
            properties = tools["search_report"].input_schema["properties"]
            assert "enum" not in properties["lang"] and "enum" not in properties["document"]
            result = await client.call_tool("search_report", {"query": QUESTION})
            assert result.is_error
            return result.content[0].text

    assert "service not ready" in anyio.run(call)
    state.error = "the index at /nowhere is missing; run `report-index build`"
    assert "report-index build" in anyio.run(call)


def test_malformed_messages_get_json_rpc_errors(http_url: str) -> None:
    """An MCP client shows a JSON-RPC error to the model; an HTTP refusal is a dead link."""
    headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    broken = httpx.post(http_url, content=b'{"jsonrpc": "2.0", "id": 1,', headers=headers)
    assert broken.json()["error"]["code"] == PARSE_ERROR

    async def run() -> None:
        async with Client(http_url) as client:
            # A query pasted from a PDF: the form feed is a line break, the NUL is refused.
            pasted = await client.call_tool("search_report", {"query": "HAECHI\x0cfraude"})
            assert not pasted.is_error
            assert "for 'HAECHI\\nfraude'" in pasted.content[0].text
            control = await client.call_tool("search_report", {"query": "HAE\x00CHI"})
            assert control.is_error
            assert control.content[0].text.endswith("the query contains control characters")

    anyio.run(run)


def test_a_message_the_sdk_cannot_read_gets_the_answer_stdio_gives(http_url: str) -> None:
    """The SDK answered with "id": null and its parser's words ("Parse error: unexpected end
    of hex escape…"): now with the request's id and what to send, as over stdio."""
    headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    surrogate = (
        b'{"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": '
        b'{"name": "search_report", "arguments": {"query": "a\\ud800"}}}'
    )
    answer = httpx.post(http_url, content=surrogate, headers=headers)
    assert answer.status_code == 400
    said = answer.json()
    assert (said["id"], said["error"]["code"]) == (7, PARSE_ERROR)
    assert "without lone surrogates such as \\ud800" in said["error"]["message"]
    assert "one JSON-RPC object per request" in said["error"]["message"]
    no_method = httpx.post(
        http_url, content=b'{"jsonrpc": "2.0", "id": 9, "method": 5}', headers=headers
    )
    assert (no_method.json()["id"], no_method.json()["error"]["code"]) == (9, -32600)
    listed = {
        "jsonrpc": "2.0",
        "id": 8,
        "method": "tools/call",
        "params": {"name": "search_report", "arguments": ["budget"]},
    }
    result = httpx.post(http_url, json=listed, headers=headers).json()["result"]
    assert result["isError"] and result["content"][0]["text"] == NOT_AN_OBJECT


def test_a_body_with_a_byte_order_mark_is_read_on_mcp_as_on_every_route(http_url: str) -> None:
    """JSON parsers may ignore a leading BOM and the other routes do: /mcp answered it with a
    parse error."""
    headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    listing = b'\xef\xbb\xbf{"jsonrpc": "2.0", "id": 3, "method": "tools/list"}'
    answer = httpx.post(http_url, content=listing, headers=headers)
    assert answer.status_code == 200
    assert answer.json()["id"] == 3 and "tools" in answer.json()["result"]


@pytest.mark.parametrize("sent", [None, 1.5, True, {"n": 1}])
def test_a_request_whose_id_is_no_string_or_integer_is_answered(http_url: str, sent) -> None:
    """The SDK read it as a notification: a 202 with no body, and the client waited for an
    answer that never came (MCP: a request's id is a string or an integer, never null)."""
    headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    answer = httpx.post(
        http_url, json={"jsonrpc": "2.0", "id": sent, "method": "ping"}, headers=headers
    )
    assert answer.status_code == 400
    error = answer.json()
    assert error["id"] is None and error["error"]["code"] == -32600
    assert "an MCP request's id is a string or an integer" in error["error"]["message"]
    # A notification, without an id, is still answered by nothing but a 202.
    quiet = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert httpx.post(http_url, json=quiet, headers=headers).status_code == 202


def test_the_sdk_refuses_headers_it_cannot_serve_before_the_body_is_read(http_url: str) -> None:
    """An unreadable body sent without accepting JSON, or not as JSON, gets the SDK's own
    refusal, which says what to change first, not a parse error."""
    unreadable = b'{"jsonrpc": "2.0", "id": 1,'
    sse_only = {"accept": "text/event-stream", "content-type": "application/json"}
    assert httpx.post(http_url, content=unreadable, headers=sse_only).status_code == 406
    as_text = {"accept": "application/json", "content-type": "text/plain"}
    not_json = httpx.post(http_url, content=unreadable, headers=as_text)
    # Bound to localhost, the SDK's DNS-rebinding guard checks the Content-Type first (400).
    assert not_json.status_code in (400, 415) and "Content-Type" in not_json.text


def test_a_compressed_body_is_refused_on_mcp_too(http_url: str) -> None:
    """The README promises the 415 for a compressed body on every path."""
    headers = {
        "accept": "application/json, text/event-stream",
        "content-type": "application/json",
        "content-encoding": "gzip",
    }
    body = gzip.compress(b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}')
    refused = httpx.post(http_url, content=body, headers=headers)
    assert refused.status_code == 415
    assert refused.json()["detail"].startswith("Content-Encoding gzip is not supported")


def test_a_tool_call_stands_alone_so_workers_and_replicas_can_answer_it(http_url: str) -> None:
    """A session lives in one process: with `--workers 2` or replicas, the next call of a
    session could reach another one ("Session not found"). Stateless, any call is enough."""
    headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    call = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": "search_report", "arguments": {"query": QUESTION, "k": 1}},
    }
    answer = httpx.post(http_url, json=call, headers=headers)  # no initialize, no session id
    assert answer.status_code == 200, answer.text
    assert "mcp-session-id" not in answer.headers
    assert "Al Raisi" in answer.json()["result"]["content"][0]["text"]
    # Nothing could ever come on a server-to-client stream: refused, not held open.
    stream = httpx.get(http_url, headers={"accept": "text/event-stream"}, timeout=10)
    assert stream.status_code == 405 and stream.headers["allow"] == "POST"


def _formatted(result: SearchResult, budget: int) -> str:
    return format_results(result, build_context(result.hits, budget), budget)


def test_an_unrecognised_query_language_reads_unknown(searcher: Searcher) -> None:
    text = _formatted(searcher.search("zxqv wqpl", k=1), 4000)
    assert "(query language: unknown)" in text
    assert "best first. Say so when none answers the question." in text
    # Said once, in the words /context uses; by the tool's own line when the budget leaves
    # the context's first line out.
    assert text.count(MAY_NOT_ANSWER) == 1 and f": {MAY_NOT_ANSWER}.\n[1] " in text
    small = _formatted(searcher.search("zxqv wqpl", k=1), 200)
    assert small.count(MAY_NOT_ANSWER) == 1 and f"best first: {MAY_NOT_ANSWER}." in small


def test_results_text_keeps_to_the_budget_and_cites_every_passage(searcher: Searcher) -> None:
    result = searcher.search("Quels pays ont participé à l'opération Lionfish ?", k=6)
    whole = _formatted(result, 20_000)
    for hit in result.hits:
        assert hit.passage.body in whole
        assert f"[{hit.rank}] {hit.passage.id}: {', '.join(hit.passage.source_urls)}" in whole

    for budget in (200, 700, 2500):
        text = _formatted(result, budget)
        block, _, sources = text.partition("\n\n")[2].rpartition("\n\nPassage ids")
        assert 0 < len(block) <= budget
        # One source line per cited passage, in rank order, then the count of the others.
        cited = [hit.passage.id for hit in result.hits if f"] {hit.passage.id}" in sources]
        assert cited == [hit.passage.id for hit in result.hits[: len(cited)]] and cited
        assert re.match(r"(From [^\n]*\n)?\[1\] ", block)  # the lead, unless no room
        assert f"\n\n[{len(cited)}] " in f"\n\n{block}" or len(cited) == 1
        omitted = re.search(r"(\d+) more passages? did not fit in max_chars", sources)
        assert (int(omitted[1]) if omitted else 0) == len(result.hits) - len(cited)
