"""The exporter tests' name for the one loopback Elasticsearch (``tests/store/elasticsearch/fake_es.py``).

``BulkServer`` is that stand-in with the exporter tests' conventions: ``requests`` counts bulk
requests (each takes one scripted :class:`Fault`), ``stored`` maps ``_id`` to ``(index, document)``,
and ``record=True`` keeps every action, response and request's headers for the contract check.
Documents go through the same templates and mappings as everywhere else, so what a test stores is
what a search would read.
"""

from __future__ import annotations

from typing import Any

from tests.store.elasticsearch.fake_es import FakeElasticsearch, Fault

__all__ = ["MAPPING_ERROR", "BulkServer", "Fault"]

MAPPING_ERROR: dict[str, Any] = {
    "type": "document_parsing_exception",
    "reason": "[1:200] failed to parse field [attributes.ml.feature.temp] of type [double]",
    "caused_by": {"type": "illegal_argument_exception", "reason": "For input string: \"hot\""},
}


class BulkServer(FakeElasticsearch):
    """``with BulkServer() as server: ... server.stored``; faults with ``server.script(Fault(...))``."""

    @property  # type: ignore[override]
    def requests(self) -> int:
        """Bulk requests seen so far."""
        return self.request_count
