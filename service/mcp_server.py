"""The search as an MCP server, so chat assistants (Claude Desktop, IDEs…) can call it.

Built with the official ``mcp`` SDK. Tools: ``search_report`` (ranked passages with section,
page and source URLs, within a character budget: as text for the model and, as structured
content for programs, the ``POST /context`` response; the filters of the HTTP API) and
``get_passage``. Resources: the list of indexed documents and each document's text.

Two transports share one server definition: stdio (``report-search mcp``, one process per
client, see :mod:`service.mcp_stdio`) and streamable HTTP, mounted at ``/mcp`` by the FastAPI app.
The server reads the engine from a :class:`ServiceState` at each call because the HTTP app
loads the model and index in the background: until they are loaded, tools answer with an
error result saying the service is not ready instead of failing the connection.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from mcp.server.context import CallNext, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import (
    ResourceError,
    ResourceNotFoundError,
)
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field, ValidationError, create_model

from indexer.artifact import DocumentEntry
from indexer.language import language_label
from indexer.messages import counted, describe_errors, quoted, unknown_names
from indexer.passage import Passage
from service.context import MAY_NOT_ANSWER, GroundedContext, context_notice
from service.documents import document_markdown, outline
from service.engine import SearchEngine
from service.passages import MAX_NEIGHBOURS, PassageNotFoundError
from service.request_fields import fields_in_order, nulls_as_defaults
from service.responses import ContextResponse, DocumentInfo, DocumentOutline, PassageResponse
from service.retrieval.query import InvalidQueryError
from service.retrieval.ranking import Mode
from service.searcher import SearchResult
from service.state import NotReadyError, ServiceState
from service.tool_definition import (
    TOOL_NAME,
    SearchReportArguments,
    search_report_description,
    search_report_parameters,
)

SERVER_NAME = "report-search"
DOCUMENTS_URI = "report://documents"
INSTRUCTIONS = (
    f"Semantic search over institutional reports ({DOCUMENTS_URI} lists them). Call "
    "search_report with the user's question in any language; answer only from the passages "
    "it returns, cite them as [n] and give their source URLs. Use get_passage to read a "
    "cited passage again."
)
_READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)


def build_mcp_server(state: ServiceState) -> MCPServer:
    """The MCP server over whatever engine ``state`` holds at the time of each call."""
    with _root_logging_kept():
        server: MCPServer = MCPServer(
            SERVER_NAME, title="Report search", instructions=INSTRUCTIONS, version="0.1.0"
        )

    async def search_report(**arguments: Any) -> CallToolResult:
        asked = SearchReportArguments.model_validate(arguments)
        try:
            engine = state.require_engine()
            result, grounded = await engine.context(
                asked.query, asked.k, asked.filters(), Mode.HYBRID, asked.max_chars
            )
        except (NotReadyError, InvalidQueryError) as exc:
            return _refused(str(exc))
        # Programs get what the model reads, within the same budget: the /context response.
        return CallToolResult(
            content=[TextContent(text=format_results(result, grounded, asked.max_chars))],
            structured_content=ContextResponse.from_context(
                grounded, result, asked.max_chars
            ).model_dump(mode="json"),
        )

    # The SDK reads a tool's arguments from its signature: here SearchReportArguments' fields,
    # whose limits and descriptions are written once, for HTTP's tool definitions too. Calls
    # are checked against the model first (_ArgumentCheck), and tools/list shows its schema
    # and names the loaded reports (_ToolsNamingTheReports).
    search_report.__signature__ = _signature_of(  # type: ignore[attr-defined]
        SearchReportArguments, Annotated[CallToolResult, ContextResponse]
    )
    server.tool(annotations=_READ_ONLY, description=search_report_description(()))(search_report)

    @server.tool(
        annotations=_READ_ONLY,
        # Not the docstring: the SDK would pass its line breaks and indentation on to the model.
        description="One passage by id, whole: its text, section, page and source URLs (and, "
        "with neighbours, the passages around it in reading order).",
    )
    async def get_passage(
        passage_id: Annotated[
            str, Field(min_length=1, description="A passage id from search_report results.")
        ],
        neighbours: Annotated[
            int,
            Field(
                ge=0,
                le=MAX_NEIGHBOURS,
                strict=True,
                description="Also this many passages before and after it in its report, to "
                "read what surrounds it.",
            ),
        ] = 0,
    ) -> Annotated[CallToolResult, PassageResponse]:
        try:
            engine = state.require_engine()
            passage, previous, following = engine.passages.around(passage_id, neighbours)
        except (NotReadyError, PassageNotFoundError) as exc:
            return _refused(str(exc))
        blocks = [format_passage(p) for p in previous]
        blocks.append(
            format_passage(passage) if neighbours == 0 else f">>> {format_passage(passage)}"
        )
        blocks += [format_passage(p) for p in following]
        text = "\n\n".join(blocks)
        if neighbours:
            text = (
                f"Passage {passage_id} (marked >>>) and its neighbours, in reading order:\n\n{text}"
            )
        return CallToolResult(
            content=[TextContent(text=text)],
            structured_content=PassageResponse.around(passage, previous, following).model_dump(
                mode="json"
            ),
        )

    arguments: dict[str, type[BaseModel]] = {
        TOOL_NAME: SearchReportArguments,
        "get_passage": _arguments_model(get_passage),
    }
    server.middleware.append(_ArgumentCheck(arguments))
    server.middleware.append(_ToolsNamingTheReports(state))

    @server.resource(
        DOCUMENTS_URI,
        name="documents",
        title="Indexed documents",
        description="The documents that can be searched, with their resource URIs.",
        mime_type="application/json",
    )
    def documents() -> str:
        return json.dumps(
            [
                {"uri": f"{DOCUMENTS_URI}/{d.id}", "outline_uri": f"{DOCUMENTS_URI}/{d.id}/outline"}
                | DocumentInfo.from_entry(d).model_dump()
                for d in _engine(state).documents
            ],
            ensure_ascii=False,
            indent=2,
        )

    @server.resource(
        DOCUMENTS_URI + "/{document_id}",
        name="document",
        title="Document text",
        description="A document's title, year, language, and its text in reading order, "
        "by section and page.",
        mime_type="text/markdown",
    )
    def document(document_id: str) -> str:
        engine, entry = _document(state, document_id)
        return document_markdown(entry, engine.passages.in_document(entry.id))

    @server.resource(
        DOCUMENTS_URI + "/{document_id}/outline",
        name="document outline",
        title="Document outline",
        description="A document's pages and its sections in reading order, with the pages "
        "each spans and its passage ids: what the section and page filters of search_report "
        "can narrow a search to (GET /documents/{id} over HTTP).",
        mime_type="application/json",
    )
    def document_outline(document_id: str) -> str:
        engine, entry = _document(state, document_id)
        sections = outline(engine.passages.in_document(entry.id))
        return DocumentOutline.of(entry, sections).model_dump_json(indent=2)

    return server


def format_results(result: SearchResult, grounded: GroundedContext, max_chars: int) -> str:
    """Search results as text a model reads: ``grounded``, the numbered block that ``POST
    /context`` returns for ``result`` within ``max_chars``, then each passage's id and source
    URLs, which the budget does not count.

    The passages are the closest the reports have, not necessarily an answer (no score tells
    the two apart, EVALUATION.md): the model is told so once (:data:`.context.MAY_NOT_ANSWER`,
    in ``grounded``'s first line, or here when the smallest budgets leave that line out), and
    asked to say when none answers; an empty result under filters names them, or it reads as
    the reports being silent.
    """
    if (notice := context_notice(result, grounded, max_chars)) is not None:
        return notice
    caveat = "" if MAY_NOT_ANSWER in grounded.text else f": {MAY_NOT_ANSWER}"
    lines = [
        f"{counted(len(grounded.citations), 'passage')} for {result.query!r} (query language: "
        f"{language_label(result.query_lang)}), best first{caveat}. Say so when none answers "
        "the question. Cite them as [n] with their source URLs.",
        "",
        grounded.text,
        "",
        "Passage ids (get_passage reads a passage whole) and source URLs:",
    ]
    for citation in grounded.citations:
        p = citation.passage
        in_part = " (quoted in part)" if citation.truncated else ""
        urls = ", ".join(p.source_urls) or "no source listed"
        lines.append(f"[{citation.n}] {p.id}{in_part}: {urls}")
    if grounded.omitted:
        lines.append(
            f"{counted(grounded.omitted, 'more passage')} did not fit in max_chars={max_chars}; "
            "ask with a larger max_chars to read them."
        )
    return "\n".join(lines)


def format_passage(passage: Passage) -> str:
    """One passage as text, with section, page and sources."""
    return (
        f"{passage.section} (p. {passage.page}) · passage {passage.id} · "
        f"document {passage.document} · language {language_label(passage.lang)}\n"
        f"{passage.body}\n"  # the line above names the section: not its heading again
        f"{_sources(passage)}"
    )


@contextlib.contextmanager
def _root_logging_kept() -> Iterator[None]:
    """Undo what ``MCPServer()`` does to the root logger (``logging.basicConfig`` with a
    handler of its own): logging belongs to the process that hosts the server (uvicorn's
    configuration, or stderr by default under stdio)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


class _ArgumentCheck:
    """Tool arguments checked as the HTTP API checks fields, and refused in plain words.

    Unknown arguments are refused: the SDK drops them, so a model's misspelt ``Lang`` or
    ``top_k`` would be ignored without a word and the model would trust a search it did not
    make. The SDK's own refusals (a ``k`` out of range) are pydantic reports with a type code
    and a documentation link per error, so the arguments are validated here first, against
    the tool's model of them (``SearchReportArguments``, or the signature's constraints for
    ``get_passage``), and the model gets "k: Input should be …" instead.
    """

    def __init__(self, models: dict[str, type[BaseModel]]) -> None:
        self._models = models

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> Any:
        params = ctx.params if ctx.method == "tools/call" and isinstance(ctx.params, dict) else {}
        name = params.get("name", "")
        model = self._models.get(name)
        # MCP makes ``arguments`` optional: a call without them is a call with none.
        arguments = params.get("arguments")
        if arguments is None:
            arguments = {}
        if model is None:
            return await call_next(ctx)
        if not isinstance(arguments, dict):
            # The SDK's answer, "Invalid request parameters" with empty data, says nothing
            # a model could correct.
            return _refused(_not_an_object(name, model, arguments))
        allowed = fields_in_order(model)
        unknown = sorted(set(arguments) - set(allowed))
        if unknown:
            return _refused(unknown_names("argument", unknown, f"for {name}", allowed))
        arguments = nulls_as_defaults(model, arguments)  # as the HTTP API reads a JSON body
        try:
            model.model_validate(arguments)
        except ValidationError as exc:
            return _refused(describe_errors(exc.errors()))
        params["arguments"] = arguments
        return await call_next(ctx)


def _not_an_object(name: str, model: type[BaseModel], arguments: object) -> str:
    """Why ``arguments`` (a list, a string…) are no arguments of tool ``name``, and their
    shape: an object naming each one, the required ones shown."""
    required = [
        field for field in fields_in_order(model) if model.model_fields[field].is_required()
    ]
    shape = ", ".join(f'"{field}": …' for field in required)
    return (
        f"the arguments of {name} must be a JSON object naming each argument, such as "
        f"{{{shape}}}; got {_json_type(arguments)}"
    )


def _json_type(value: object) -> str:
    """``value``'s kind as JSON names it: "a list", "a string"… for the arguments that are no
    object (an object is read, and ``null`` stands for none)."""
    kinds = {list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return kinds[type(value)]


class _ToolsNamingTheReports:
    """``tools/list`` with ``search_report`` as the HTTP tool definitions show it
    (:mod:`service.tool_definition`): its description names the indexed reports and their
    language, which tells a model when to call it (and that it need not translate);
    ``document`` is an enumeration of their ids, ``lang`` of the passages' languages, each
    offered only when there is a choice.

    The tools are declared before the index loads (the HTTP app loads it in the background),
    so the reports are filled in per listing; until then the generic description stands.
    Both tools also say they take no other argument, as ``_ArgumentCheck`` enforces.
    """

    def __init__(self, state: ServiceState) -> None:
        self._state = state

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> Any:
        result = await call_next(ctx)
        if ctx.method != "tools/list" or result is None:
            return result
        # The handler's result, or already its wire form (the SDK serialises in between).
        listing = (
            result.model_dump(mode="json", by_alias=True, exclude_none=True)
            if isinstance(result, BaseModel)
            else result
        )
        engine = self._state.engine
        if engine is None:
            # Still loading: the reports and languages are not known yet, so document and
            # lang are offered as free text rather than left out of a listing that a client
            # may keep for the whole connection.
            search_schema = search_report_parameters(None, None)
        else:
            search_schema = search_report_parameters(engine.documents, engine.passage_languages)
        tools = []
        for tool in listing["tools"]:
            if tool["name"] == TOOL_NAME:
                schema = search_schema
                if engine is not None:
                    tool = {**tool, "description": search_report_description(engine.documents)}
            else:
                schema = {**tool["inputSchema"], "additionalProperties": False}
            tools.append({**tool, "inputSchema": schema})
        return {**listing, "tools": tools}


def _signature_of(model: type[BaseModel], returns: object) -> inspect.Signature:
    """A function signature taking ``model``'s fields as keyword arguments, with their types
    and defaults."""
    return inspect.Signature(
        [
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=field.annotation,
                default=inspect.Parameter.empty if field.is_required() else field.default,
            )
            for name, field in model.model_fields.items()
        ],
        return_annotation=returns,
    )


def _arguments_model(tool: Callable[..., object]) -> type[BaseModel]:
    """A pydantic model of ``tool``'s parameters, with their ``Field`` constraints."""
    parameters = inspect.signature(tool, eval_str=True).parameters.values()
    fields: dict[str, Any] = {
        p.name: (p.annotation, ... if p.default is inspect.Parameter.empty else p.default)
        for p in parameters
    }
    return create_model(f"{getattr(tool, '__name__', 'tool')}_arguments", **fields)


def _refused(message: str) -> CallToolResult:
    """A tool call refused in the words the HTTP API's ``detail`` uses for the same input,
    without the "Error executing tool …" the SDK puts before a raised ToolError: one wording
    for every interface, and the model knows which tool it called."""
    return CallToolResult(content=[TextContent(text=message)], is_error=True)


def _document(state: ServiceState, document_id: str) -> tuple[SearchEngine, DocumentEntry]:
    """The engine and the served document with this id (any case), or the resource error."""
    engine = _engine(state)
    entry = engine.document(document_id)
    if entry is None:
        raise ResourceNotFoundError(
            f"no document has the id {quoted(document_id)}; {DOCUMENTS_URI} lists them"
        )
    return engine, entry


def _engine(state: ServiceState) -> SearchEngine:
    """The loaded engine for a resource read, or the error saying why the service cannot
    answer yet (tools answer that as a refused call, :func:`_refused`)."""
    try:
        return state.require_engine()
    except NotReadyError as exc:
        raise ResourceError(str(exc)) from exc


def _sources(passage: Passage) -> str:
    if not passage.source_urls:
        return "Sources: none listed"
    return "Sources:\n" + "\n".join(f"- {url}" for url in passage.source_urls)
