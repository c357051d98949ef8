"""GET /tools/openai and /tools/anthropic: the search_report tool, and the README's tool loop."""

from __future__ import annotations

import json

from indexer.artifact import DocumentEntry
from service.api.app import create_app
from service.tool_definition import search_report_tool
from tests.conftest import QUESTION, ROOT, live_server


def test_openai_tool_definition(client):
    tool = client.get("/tools/openai").json()
    assert tool["type"] == "function"
    function = tool["function"]
    assert function["name"] == "search_report"
    assert function["description"].startswith(
        "Search the report 'INTERPOL — Rapport annuel 2021' (id interpol-2021-fr, language fr) "
    )
    parameters = function["parameters"]
    assert parameters["type"] == "object"
    assert parameters["required"] == ["query"]
    # One report, in one language: nothing to choose with `document` or `lang` (a model
    # passing the user's language, "en", would get an error); the MCP tool's arguments.
    assert set(parameters["properties"]) == {
        "query",
        "k",
        "section",
        "page_min",
        "page_max",
        "max_chars",
    }
    assert parameters["properties"]["page_min"] == {
        "type": "integer",
        "minimum": 1,
        "description": "First page to search.",
    }
    assert parameters["properties"]["k"]["maximum"] == 50
    # What the model sees: section titles in results' headers, never a passage's `sections`.
    section = parameters["properties"]["section"]["description"]
    assert "sections" not in section and "title that earlier results showed" in section
    assert "'[n] SECTION (p. N)'" in function["description"]


def test_a_tool_over_many_reports_names_twenty_and_lets_the_model_choose_among_all():
    reports = [
        DocumentEntry(
            f"report-{n:03d}", f"r{n}.txt", "0" * 64, f"Report {n}", 2000 + n, "en", None, None, 10
        )
        for n in range(300)
    ]
    # Passages of undetermined language ("und") are no language to choose.
    function = search_report_tool(reports, {"en", "de", "und"})["function"]
    description = function["description"]
    assert "'Report 19' (id report-019, language en); and 280 more (the document" in description
    assert "report-020" not in description
    assert len(description) < 1500
    assert function["parameters"]["properties"]["document"]["enum"] == [r.id for r in reports]
    assert function["parameters"]["properties"]["lang"]["enum"] == ["de", "en"]


def test_anthropic_tool_definition_is_the_same_tool(client):
    openai = client.get("/tools/openai").json()["function"]
    anthropic = client.get("/tools/anthropic").json()
    assert anthropic == {
        "name": "search_report",
        "description": openai["description"],
        "input_schema": openai["parameters"],
    }
    assert client.get("/tools/anthropic", params={"x": 1}).status_code == 422


def test_readme_tool_calling_loop_runs_against_the_service(settings, searcher):
    """The README's tool loop, as printed, with a scripted model in place of the chat API:
    one tool call with the model's arguments (a bad one first), then an answer quoting the
    tool's result."""
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("### Tool calling", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    definitions, loop = code.split("\nsystem = ", 1)
    (report,) = searcher.index.manifest.documents
    calls = iter([{"query": QUESTION, "k": 99}, {"query": QUESTION, "k": 2, "document": report.id}])

    def chat(messages: list[dict], tools: list[dict]) -> dict:
        assert [tool["function"]["name"] for tool in tools] == ["search_report"]
        arguments = next(calls, None)
        if arguments is None:
            return {"role": "assistant", "content": messages[-1]["content"]}
        function = {"name": "search_report", "arguments": json.dumps(arguments)}
        return {"role": "assistant", "tool_calls": [{"id": "1", "function": function}]}

    with live_server(create_app(settings, searcher)) as url:
        namespace: dict = {}
        exec(definitions.replace("http://127.0.0.1:8000", url), namespace)
        namespace["chat"] = chat
        exec("system = " + loop.replace("print(", "(lambda *_: None)("), namespace)
    tool_results = [m["content"] for m in namespace["messages"] if m["role"] == "tool"]
    assert tool_results[0].startswith("Error: k: Input should be less than or equal to 50")
    answer = namespace["message"]["content"]
    lead, first = answer.split("\n", 1)
    assert lead.startswith("From INTERPOL") and first.startswith("[1] ") and "Al Raisi" in answer
    assert "\n\nSources:\n[1] https://www.interpol.int/" in answer
