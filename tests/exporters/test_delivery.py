"""Chunked bulk requests against a loopback ``_bulk`` server: exact chunk sizes, a scripted 413.

Every item here has the same encoded length, so the number of items per request is known exactly
from ``max_bulk_bytes``; a chunking mistake shows as a wrong request shape or a missing document.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelspan.elasticsearch.connection import resolve_settings
from modelspan.exporters import _retry
from modelspan.exporters._bulk import Item, body, encode_documents, outcomes
from modelspan.exporters._counters import Counters
from modelspan.exporters._deadletter import DeadLetters
from modelspan.exporters._delivery import Delivery
from modelspan.exporters._retry import Backoff, Deadline
from modelspan.exporters._transport import Transport
from tests.exporters.bulk_server import BulkServer, Fault


def _items(count: int) -> list[Item]:
    documents = [{"@timestamp": "1705314600000.0", "trace_id": f"{n:032x}", "span_id": f"{n:016x}", "name": "p",
                  "data_stream": {"type": "traces", "dataset": "modelspan.otel", "namespace": "default"}}
                 for n in range(count)]
    items = encode_documents(documents)
    assert len({len(item.lines) for item in items}) == 1
    return items


@pytest.fixture
def server() -> Iterator[BulkServer]:
    with BulkServer(record=True) as fake:
        yield fake


def _delivery(server: BulkServer, tmp_path: Path, max_bulk_bytes: int) -> Delivery:
    transport = Transport(resolve_settings(server.url, environ={}))
    return Delivery(transport, DeadLetters(tmp_path / "dead.ndjson", 1 << 20), Counters(), request_timeout=5.0,
                    max_bulk_bytes=max_bulk_bytes, backoff=Backoff(initial=0.001, maximum=0.001))


def _send(delivery: Delivery, items: list[Item]) -> list[Item]:
    result = delivery.send(items, Deadline(30.0, threading.Event()))
    assert not result.down
    return result.pending


def _request_sizes(server: BulkServer) -> list[int]:
    return [len(response["items"]) for response in server.responses]


@pytest.mark.parametrize(("per_request", "slack", "expected"), [
    (3, 0, [3, 3, 3, 1]),   # exactly three items fit
    (3, -1, [2, 2, 2, 2, 2]),  # one byte short of three
    (3, 1, [3, 3, 3, 1]),
    (10, 0, [10]),
    (1, 0, [1] * 10),
    (1, -1, [1] * 10),  # smaller than one item: still one item per request
])
def test_chunks_hold_as_many_items_as_fit(server: BulkServer, tmp_path: Path, per_request: int, slack: int,
                                          expected: list[int]) -> None:
    items = _items(10)
    delivery = _delivery(server, tmp_path, per_request * len(items[0].lines) + slack)
    assert _send(delivery, items) == []
    assert _request_sizes(server) == expected
    assert [action["create"]["_id"] for action in server.actions] == [item.id for item in items]
    stats = delivery.counters.stats()
    assert stats["stored"] == 10 and stats["requests"] == len(expected) and stats["retries"] == 0


def test_a_413_halves_the_request_size_and_stores_everything_once(server: BulkServer, tmp_path: Path) -> None:
    items = _items(8)
    delivery = _delivery(server, tmp_path, 1 << 20)
    server.script(Fault(status=413), Fault(status=413))
    assert _send(delivery, items) == []
    # round 1: all 8 refused (8 retried), limit 4 items; round 2: 4 refused again (8 retried, the
    # request stops at the 413), limit 2 items, below 3/4 of the refused size; then 4 requests of
    # 2 items go through, and the limit grows back on success, up to 3/4 of the refused 4 items.
    assert server.requests == 6
    assert _request_sizes(server) == [2, 2, 2, 2]
    assert delivery.max_bulk_bytes == len(body(items[:3]))
    assert sorted(server.stored) == sorted(item.id for item in items)
    stats = delivery.counters.stats()
    assert stats["stored"] == 8 and stats["requests"] == 6 and stats["retries"] == 16
    assert stats["dead_lettered"] == 0


def test_a_413_for_a_single_item_is_a_dead_letter(server: BulkServer, tmp_path: Path) -> None:
    (item,) = _items(1)
    delivery = _delivery(server, tmp_path, 1 << 20)
    server.script(Fault(status=413))
    assert _send(delivery, [item]) == []
    assert server.requests == 1 and not server.stored
    (letter,) = delivery.dead_letters.read()
    assert "413" in str(letter)
    stats = delivery.counters.stats()
    assert stats["dead_lettered"] == 1 and stats["request_errors"] == 1 and stats["stored"] == 0


def test_per_item_answers_are_counted_exactly(server: BulkServer, tmp_path: Path) -> None:
    items = _items(6)
    ids = [item.id for item in items]

    def answer(identifier: str, document: dict[str, Any]) -> int | None:
        return {ids[1]: 400, ids[2]: 429}.get(identifier)

    server.script(Fault(item_status=answer))
    delivery = _delivery(server, tmp_path, 1 << 20)
    delivery.send(items[:1], Deadline(30.0, threading.Event()))  # stored before: its replay is a 409
    server.script(Fault(item_status=answer))
    assert _send(delivery, items) == []
    stats = delivery.counters.stats()
    assert stats["duplicates"] == 1 and stats["dead_lettered"] == 1 and stats["retries"] == 1
    assert stats["stored"] == 1 + 5  # first send, then 3 new + 1 duplicate + the retried 429
    assert sorted(server.stored) == sorted(ids[:1] + ids[2:])


def test_a_413_for_two_items_sends_each_alone(server: BulkServer, tmp_path: Path) -> None:
    items = _items(2)
    delivery = _delivery(server, tmp_path, 1 << 20)
    server.script(Fault(status=413))
    assert _send(delivery, items) == []
    assert server.requests == 3 and _request_sizes(server) == [1, 1]
    assert sorted(server.stored) == sorted(item.id for item in items)


class _FrozenClock:
    """Monotonic time that stands still, so a deadline's remaining time is exact."""

    @staticmethod
    def monotonic() -> float:
        return 1000.0

    @staticmethod
    def time() -> float:
        return 1_700_000_000.0


def test_after_a_413_the_smaller_requests_go_out_without_a_backoff_wait(
        server: BulkServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_retry, "time", _FrozenClock)
    items = _items(4)
    delivery = Delivery(Transport(resolve_settings(server.url, environ={})),
                        DeadLetters(tmp_path / "dead.ndjson", 1 << 20), Counters(), request_timeout=5.0,
                        max_bulk_bytes=1 << 20, backoff=Backoff(initial=0.002, maximum=0.002))
    server.script(Fault(status=413))
    # 0.5 s left, always: any wait of 0.5 s or more is refused, the 1-2 ms backoff is not
    result = delivery.send(items, Deadline(0.5, threading.Event()))
    assert result.pending == [] and _request_sizes(server) == [2, 2]


@pytest.mark.parametrize("status", [401, 403, 429, 502, 503, 504])
def test_unavailable_or_unauthorised_answers_are_retried_never_dead_lettered(
        server: BulkServer, tmp_path: Path, status: int) -> None:
    items = _items(5)
    delivery = _delivery(server, tmp_path, 2 * len(items[0].lines))
    server.script(Fault(status=status))
    assert _send(delivery, items) == []
    stats = delivery.counters.stats()
    assert stats["dead_lettered"] == 0 and stats["stored"] == 5 and stats["request_errors"] == 1
    # a 429 is throttling: the other chunks of the round still go; else the round stops at once
    expected_retries = 2 if status == 429 else 5
    assert stats["retries"] == expected_retries and not delivery.dead_letters.read()


class _TruncatingServer(BulkServer):
    """Answers the first request with one item too few and ``errors: false``: unpairable."""

    truncate: bool = True

    def bulk(self, lines: list[dict[str, Any]], item_status: Any, default_index: str | None,
             refresh: str | None = None) -> dict[str, Any]:
        response = super().bulk(lines, item_status, default_index, refresh)
        if self.truncate:
            self.truncate = False
            response["items"] = response["items"][:-1]
        return response


def test_an_answer_that_cannot_be_paired_is_sent_again_and_dedupes(tmp_path: Path) -> None:
    items = _items(4)
    with _TruncatingServer(record=True) as server:
        delivery = _delivery(server, tmp_path, 1 << 20)
        assert _send(delivery, items) == []
        assert server.requests == 2
    stats = delivery.counters.stats()
    assert stats["request_errors"] == 1 and stats["duplicates"] == 4 and stats["stored"] == 4
    assert sorted(server.stored) == sorted(item.id for item in items)


@pytest.mark.parametrize(("status", "verdict"), [
    (200, "stored"), (201, "stored"), (299, "stored"), (409, "duplicate"), (429, "retry"), (500, "retry"),
    (502, "retry"), (503, "retry"), (504, "retry"), (300, "dead"), (400, "dead"), (403, "dead"), (404, "dead"),
    (501, "dead"), (199, "dead"),
])
def test_each_item_status_has_one_verdict(status: int, verdict: str) -> None:
    (item,) = _items(1)
    error = {"type": "x", "reason": "y", "caused_by": {"type": "z", "reason": "w"}}
    (outcome,) = outcomes([item], {"items": [{"create": {"status": status, "error": error}}]})
    assert (outcome.verdict, outcome.status, outcome.item) == (verdict, status, item)
    assert outcome.reason == ("" if verdict in ("stored", "duplicate") else "x: y (caused by z: w)")


@pytest.mark.parametrize("response", [{}, {"items": None}, {"items": {}}, {"items": [{}]}, {"items": [{}, {}, {}]}])
def test_answers_that_cannot_be_paired_with_the_request_raise(response: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="for 2 sent"):
        outcomes(_items(2), response)


def test_non_finite_numbers_are_written_as_null_and_the_rest_kept() -> None:
    document = {"@timestamp": "1.0", "trace_id": "a", "span_id": "b",
                "attributes": {"x": 1.5, "y": math.nan, "z": [math.inf, 2.0, "s"], "n": {"m": -math.inf}}}
    (item,) = encode_documents([document])

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    source = json.loads(item.lines.splitlines()[1], parse_constant=refuse)
    assert source["attributes"] == {"x": 1.5, "y": None, "z": [None, 2.0, "s"], "n": {"m": None}}


def test_an_item_error_without_detail_still_has_a_reason() -> None:
    (item,) = _items(1)
    (outcome,) = outcomes([item], {"items": [{"create": {"status": 400}}]})
    assert outcome.verdict == "dead" and outcome.reason == "no error detail"
    (outcome,) = outcomes([item], {"items": [{"create": {"status": 400, "error": "plain text"}}]})
    assert outcome.reason == "plain text"


@pytest.mark.parametrize("answer", [{}, "junk", None, {"create": {}}])
def test_an_item_answer_without_a_status_is_dead_with_status_0(answer: Any) -> None:
    (item,) = _items(1)
    (outcome,) = outcomes([item], {"items": [answer]})
    assert (outcome.verdict, outcome.status, outcome.reason) == ("dead", 0, "no error detail")


def test_an_expired_deadline_returns_everything_unsent_and_not_down(server: BulkServer, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_retry, "time", _FrozenClock)
    items = _items(3)
    delivery = _delivery(server, tmp_path, 1 << 20)
    result = delivery.send(items, Deadline(0.0, threading.Event()))
    assert result.pending == items and result.down is False and server.requests == 0


def test_a_refused_connection_returns_everything_as_down(server: BulkServer, tmp_path: Path) -> None:
    items = _items(4)
    delivery = _delivery(server, tmp_path, 2 * len(items[0].lines))
    server.stop()
    result = delivery.send(items, Deadline(30.0, threading.Event()))
    assert result.pending == items and result.down is True
    assert delivery.counters.stats()["request_errors"] == 1


def test_a_retry_after_past_the_deadline_returns_the_batch(server: BulkServer, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_retry, "time", _FrozenClock)
    items = _items(2)
    delivery = _delivery(server, tmp_path, 1 << 20)
    server.script(Fault(status=503, retry_after="10"))
    result = delivery.send(items, Deadline(5.0, threading.Event()))  # 10 s wait asked, 5 s left
    assert result.pending == items and result.down is False and server.requests == 1

