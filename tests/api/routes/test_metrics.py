"""``GET /metrics``'s served-index metrics in a process of their own: the registry is global."""

from __future__ import annotations

from tests.conftest import run_fresh_python

SCRAPE = """
from types import SimpleNamespace
from prometheus_client import generate_latest
from service import metrics

def served():
    return [line for line in generate_latest().decode().splitlines()
            if line.startswith("report_search_index_info")]

print(served())
for version in ("v1", "v2"):
    index = SimpleNamespace(version=version, passages=[1, 2])
    encoder = SimpleNamespace(identity=SimpleNamespace(name="e5"))
    metrics.record_served(SimpleNamespace(index=index, encoder=encoder))
print(served())
"""


def test_no_index_info_sample_until_an_index_is_served():
    """``report_search_index_info 1.0`` without labels read as an index served with no
    version; after a reload only the version now served is 1."""
    before, after, _ = run_fresh_python(SCRAPE)
    assert before == "[]"
    assert after == """['report_search_index_info{model="e5",version="v2"} 1.0']"""
