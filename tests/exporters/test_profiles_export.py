"""``ElasticsearchSpanExporter.export_profiles``: profiles reach ``metrics-modelspan.profile-<ns>`` (docs/profiles.md).

Through the real templates (``modelspan elastic setup``) into the loopback Elasticsearch: the
fixed mapping takes the documents (the latency as a ``histogram``), a lost answer is retried and
deduplicated by id, two flushes of one key are two documents that add up, and a profile that cannot
be encoded is dead-lettered with the reason while the others are stored.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelspan._sketch import quantile
from modelspan.elastic import setup
from modelspan.elasticsearch import profiles
from modelspan.exporters._retry import Backoff
from modelspan.exporters.elasticsearch import ElasticsearchSpanExporter
from modelspan.instrumentation._profiles import Profile, _Profiles
from modelspan.store._es_profiles import profile_body
from modelspan.store.types import Question, Window
from tests.contract.tsc import Case, bulk_groups, typecheck
from tests.exporters.bulk_server import BulkServer, Fault

MINUTE = 60 * 10**9
START = 1_795_341_600 * 10**9  # 2026-11-22T10:00:00Z
WINDOW = Window.parse("2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z")


@pytest.fixture
def server() -> Iterator[BulkServer]:
    with BulkServer() as es:
        setup(es.url)
        yield es


def _exporter(server: BulkServer, tmp_path: Path) -> ElasticsearchSpanExporter:
    return ElasticsearchSpanExporter(server.url, spool_dir=tmp_path / "spool", dead_letter_path=tmp_path / "dead.jsonl",
                                     backoff=Backoff(initial=0.01, maximum=0.05), profile_namespace="test")


def _recorded(latencies: list[int], module: str = "", start: int = START) -> list[Profile]:
    state = _Profiles()  # the SDK's own profile code, on its own (not the process-wide one)
    for number, latency in enumerate(latencies):
        state.record("churn", "3", module, start, start + latency, number % 5 == 0, 2.0, number % 2 == 0)
    return state.take()


def _stored(server: BulkServer, kind: str = "operations") -> list[dict[str, Any]]:
    """The profile documents of ``kind`` stored (a model profile also has per-feature documents)."""
    return [doc for index, doc in server.stored.values()
            if index == "metrics-modelspan.profile-test" and doc["attributes"]["ml.profile.kind"] == kind]


def test_profiles_are_stored_with_the_latency_as_a_histogram(server: BulkServer, tmp_path: Path) -> None:
    exporter = _exporter(server, tmp_path)
    latencies = [1_000_000 + 7_919 * i for i in range(200)] + [0]
    try:
        assert exporter.export_profiles(_recorded(latencies)) == 2  # operations, and the (empty) quality counts
        assert exporter.force_flush(10_000)
    finally:
        exporter.shutdown()
    (document,) = _stored(server)
    body = {key.removeprefix("ml.profile."): value for key, value in document["metrics"].items()}  # type: ignore[attr-defined]
    assert body["calls"] == 201 and body["errors"] == 41 and body["spans"] == 101 and body["rows"] == 402.0
    assert body["latency"]["values"][0] == 0.0 and sum(body["latency"]["counts"]) == 201
    assert body["latency_sum"] == sum(latencies) and body["latency_min"] == 0 and body["latency_max"] == max(latencies)
    assert document["attributes"]["ml.profile.kind"] == "operations"  # type: ignore[index]
    assert len(_stored(server, "quality")) == 1 and exporter.stats()["stored"] == 2
    assert not exporter.dead_letters.read()
    # percentiles over the stored histogram are the sketch's: within 1 % of the exact order statistic
    question = Question("churn", "3", WINDOW, 600)
    answer = server.search(profiles.PATTERN, profile_body(question))["aggregations"]["calls"]
    ordered = sorted(latencies)
    for percent, value in answer["latency"]["values"].items():
        exact = ordered[max(math.ceil(float(percent) / 100 * len(ordered)) - 1, 0)]
        assert value == pytest.approx(exact, rel=0.0101)
    assert answer["calls"]["value"] == 201 and answer["latency_sum"]["value"] == sum(latencies)


def test_a_lost_answer_is_retried_and_stored_once(server: BulkServer, tmp_path: Path) -> None:
    server.script(Fault(drop=True))  # stored, but the answer never arrives
    exporter = _exporter(server, tmp_path)
    try:
        exporter.export_profiles(_recorded([2_000_000] * 10) + _recorded([3_000_000], module="scorer"))
        assert exporter.force_flush(10_000)
    finally:
        exporter.shutdown()
    assert len(_stored(server)) == 2 and len(_stored(server, "quality")) == 1  # the sub-module has no features
    stats = exporter.stats()
    assert stats["stored"] == 3 and stats["duplicates"] == 3 and stats["retries"] >= 2


def test_flushes_of_one_key_add_up_instead_of_replacing(server: BulkServer, tmp_path: Path) -> None:
    first, second = _exporter(server, tmp_path), _exporter(server, tmp_path / "other")  # two processes
    try:
        for exporter in (first, second):
            exporter.export_profiles(_recorded([1_000_000] * 3))
            exporter.export_profiles(_recorded([1_000_000] * 4))  # same key, next flush
            assert exporter.force_flush(10_000)
    finally:
        first.shutdown()
        second.shutdown()
    assert len(_stored(server)) == 4
    answer = server.search(profiles.PATTERN, profile_body(Question("churn", "3", WINDOW, 600)))["aggregations"]
    assert answer["calls"]["calls"]["value"] == 14


def test_an_unencodable_profile_is_dead_lettered_and_the_rest_stored(server: BulkServer, tmp_path: Path) -> None:
    good = _recorded([1_000_000])
    bad = _recorded([1_000_000], start=START + MINUTE)
    bad[0].rows = math.nan
    exporter = _exporter(server, tmp_path)
    try:
        # the bad one is kept in the dead-letter file; its (well-formed) quality counts are sent
        assert exporter.export_profiles(good + bad) == 3
        assert exporter.force_flush(10_000)
        letters = exporter.dead_letters.read()
    finally:
        exporter.shutdown()
    assert len(_stored(server)) == 1 and exporter.stats()["unencodable"] == 1
    assert len(letters) == 1 and "cannot be encoded" in str(letters[0].get("reason"))


def test_after_shutdown_profiles_are_refused_loudly(server: BulkServer, tmp_path: Path) -> None:
    exporter = _exporter(server, tmp_path)
    exporter.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        exporter.export_profiles(_recorded([1]))


def test_the_histogram_keeps_the_sketch() -> None:
    (profile,) = _recorded([1_000, 1_000, 5_000_000, 0])
    histogram = profiles.latency_histogram(profile.buckets, profile.zeros)
    assert histogram["values"] == sorted(histogram["values"]) and histogram["counts"] == [1, 2, 1]
    assert quantile(profile.buckets, profile.zeros, 0.5) in histogram["values"]


def test_the_bulk_body_of_profiles_is_a_bulk_request(tmp_path: Path) -> None:
    with BulkServer(record=True) as server:
        setup(server.url)
        exporter = _exporter(server, tmp_path)
        try:
            exporter.export_profiles(_recorded([1_000, 2_000_000, 0]) + _recorded([5], module="scorer"))
            assert exporter.force_flush(10_000)
        finally:
            exporter.shutdown()
        lines = [json.loads(line) for body in server.bodies for line in body.splitlines() if line]
    assert len(lines) == 6 and lines[0]["create"]["_index"] == "metrics-modelspan.profile-test"
    typecheck([Case("profiles bulk", "BulkBody", bulk_groups(lines))])
