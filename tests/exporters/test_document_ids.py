"""Document ids: trace id + span id by default (idempotent replays), the ``elasticsearch.document_id``
attribute with ``dynamic_ids`` (the Collector's ``traces_dynamic_id``), chosen by argument or environment."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from modelspan.exporters._bulk import encode_spans
from modelspan.exporters.elasticsearch import ENV_DYNAMIC_ID
from tests.exporters.bulk_server import BulkServer
from tests.exporters.test_elasticsearch import exporter_for, settle, span_id
from tests.exporters.test_encoding_isolation import sdk_spans


def test_dynamic_ids_from_the_environment_dedupe_a_resent_document(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_DYNAMIC_ID, "true")
    first, second, plain = sdk_spans([{"elasticsearch.document_id": "order-7"},
                                      {"elasticsearch.document_id": "order-7"}, {"n": 1}])
    with BulkServer() as server:
        exporter = exporter_for(server, tmp_path)
        try:
            assert exporter.dynamic_ids
            exporter.export([first, plain])
            settle(exporter)
            exporter.export([second])  # the same business document again: 409, stored once
            settle(exporter)
            stats = exporter.stats()
        finally:
            exporter.shutdown()
    assert set(server.stored) == {"order-7", span_id(plain)}
    assert stats["duplicates"] == 1 and stats["dead_lettered"] == 0
    assert "elasticsearch.document_id" not in server.stored["order-7"][1].get("attributes", {})


def test_without_dynamic_ids_the_attribute_does_not_choose_the_id(tmp_path: Path) -> None:
    spans = sdk_spans([{"elasticsearch.document_id": "order-7"}, {"elasticsearch.document_id": "order-7"}])
    with BulkServer() as server:
        exporter = exporter_for(server, tmp_path)
        try:
            exporter.export(spans)
            settle(exporter)
        finally:
            exporter.shutdown()
    assert set(server.stored) == {span_id(span) for span in spans}


def test_a_bad_environment_value_is_logged_and_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv(ENV_DYNAMIC_ID, "maybe")
    with BulkServer() as server, caplog.at_level(logging.WARNING, logger="modelspan.exporters"):
        exporter = exporter_for(server, tmp_path)
        exporter.shutdown()
    assert exporter.dynamic_ids is False
    assert any(ENV_DYNAMIC_ID in record.getMessage() for record in caplog.records)
    explicit = exporter_for(server, tmp_path / "explicit", dynamic_ids=True)
    explicit.shutdown()
    assert explicit.dynamic_ids is True


def test_encoding_uses_the_attribute_as_the_id_only_when_asked() -> None:
    """``encode_spans`` on its own (benchmarks, the exporter's callers): trace + span id by default."""
    (span,) = sdk_spans([{"elasticsearch.document_id": "order-7"}])
    assert [item.id for item in encode_spans([span]).items] == [span_id(span)]
    assert [item.id for item in encode_spans([span], dynamic_ids=True).items] == ["order-7"]
