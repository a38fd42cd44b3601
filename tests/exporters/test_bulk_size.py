"""The bulk request size after a 413: halved to get the documents in, then grown back."""

from __future__ import annotations

from pathlib import Path

from opentelemetry.sdk.trace.export import SpanExportResult

from tests.exporters.bulk_server import BulkServer, Fault
from tests.exporters.test_elasticsearch import assert_each_span_once, exporter_for, make_spans, settle

BULK_BYTES = 20_000  # a few dozen documents per request


def _requests(server: BulkServer, tmp_path: Path, batches: int, faults: list[Fault]) -> list[int]:
    """Requests each of ``batches`` exports of 100 spans took (faults scripted before the first)."""
    spans = make_spans(100 * batches)
    counts = []
    exporter = exporter_for(server, tmp_path, max_bulk_bytes=BULK_BYTES)
    server.script(*faults)
    try:
        for number in range(batches):
            before = server.requests
            assert exporter.export(spans[100 * number: 100 * (number + 1)]) is SpanExportResult.SUCCESS
            settle(exporter)
            counts.append(server.requests - before)
        assert_each_span_once(server, exporter, spans)
    finally:
        exporter.shutdown()
    return counts


def test_one_413_does_not_shrink_every_later_request(tmp_path: Path) -> None:
    with BulkServer() as plain_server:
        plain = _requests(plain_server, tmp_path / "plain", 8, [])
    with BulkServer() as server:
        after_413 = _requests(server, tmp_path / "refused", 8, [Fault(status=413)])
    assert len(set(plain)) == 1 and plain[0] > 2  # the same number of requests per batch
    assert after_413[0] > plain[0]  # the refused request was sent again, in halves
    # Right after the 413 requests stay below the refused size (at most one more request).
    assert all(count <= plain[0] + 1 for count in after_413[1:])
    # Once enough requests were accepted the refused size is forgotten: back to full size.
    assert after_413[-1] == plain[0]
    assert sum(after_413) <= 1.5 * sum(plain)  # not ~2x, as when every later request stayed halved


def test_a_lasting_size_limit_costs_a_refusal_now_and_then_not_every_request(tmp_path: Path) -> None:
    with BulkServer() as plain_server:
        plain = sum(_requests(plain_server, tmp_path / "plain", 8, []))
    with BulkServer() as server:
        # a proxy's (or http.max_content_length's) cap at half of what the exporter would send
        server.max_content_length = BULK_BYTES // 2
        limited = _requests(server, tmp_path / "limited", 8, [])
        refused = sum(1 for _, status in server.bulk_sizes if status == 413)
    # Every document arrives exactly once (checked in _requests); refusals are a small share of
    # the requests, and the accepted requests stay near the largest size the limit allows.
    assert refused >= 1
    assert refused <= sum(limited) // 8, (refused, limited)
    assert sum(limited) - refused <= 3 * plain, (limited, plain)
