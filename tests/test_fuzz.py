"""Property-based fuzzing of the API against its own OpenAPI schema (schemathesis 4).

Every operation the schema describes gets generated requests, valid and invalid, through
the ASGI app with the real model and index. Whatever comes in, the answer must not be a
5xx, and its status code, content type and body must be the ones the schema documents.
Bounded and derandomized: the same ~200 requests on every run.
"""

from __future__ import annotations

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from indexer.settings import Settings
from service.api.app import create_app
from service.searcher import Searcher

# Five operations take input, three take none (one request each): about 200 requests.
EXAMPLES_PER_OPERATION = 40
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


# The schema comes from an app built for it alone (its routes and documented errors depend
# on the settings, not on the index); the requests go to an app over the real searcher.
# ``schemathesis.pytest.from_fixture`` would do both at once but does not run on pytest 9.
schema = schemathesis.openapi.from_dict(
    create_app(Settings(api_key=None, rate_limit_per_minute=0)).openapi()
)


@pytest.fixture
def fuzzed_app(settings: Settings, searcher: Searcher) -> FastAPI:
    """The app the generated requests are sent to, with the real model and index.

    One per operation: schemathesis ends the app's lifespan after each test, and the MCP
    session manager in that lifespan runs once per app.
    """
    return create_app(settings, searcher)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    # Generated cases only (valid and invalid): schemathesis's coverage phase adds hundreds
    # of explicit boundary cases per run, which would unbound the request count.
    phases=[Phase.generate],
    derandomize=True,
    database=None,
    deadline=None,  # real model work; speed is the benchmarks' business
    suppress_health_check=list(HealthCheck),
)
def test_api_never_fails_and_matches_its_schema(
    case: schemathesis.Case, fuzzed_app: FastAPI
) -> None:
    case.call_and_validate(app=fuzzed_app, checks=CHECKS)
