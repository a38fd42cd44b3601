"""The per-feature part of profiles in Elasticsearch (docs/profiles.md): documents, fixed mapping, ids.

Profiles built with the SDK's own ``FeatureFold`` (``_feature_profiles``) go through the real
``ElasticsearchSpanExporter.export_profiles`` into the loopback Elasticsearch after ``modelspan elastic
setup``, which indexes every document through the installed mapping (a bad ``histogram`` or a type clash
is rejected there, as on a cluster).
"""

from __future__ import annotations

import doctest
import json
from pathlib import Path
from typing import Any

from modelspan import semconv
from modelspan.elasticsearch import feature_profiles, profiles
from modelspan.exporters.elasticsearch import ElasticsearchSpanExporter
from modelspan.instrumentation._feature_profiles import OTHER_LABEL, OTHER_PATH, FeatureFold
from modelspan.instrumentation._profiles import Profile
from tests.contract.tsc import Case, bulk_groups, typecheck
from tests.exporters.bulk_server import BulkServer, Fault
from tests.store.elasticsearch.ingest import cluster, export_profiles

START = 1_795_341_600 * 10**9


def _profile(features: int, start: int = START) -> Profile:
    profile = Profile("churn", "3", "", start, 60 * 10**9, calls=10, spans=1)
    for number in range(features):
        fold = FeatureFold("numeric", "b-1", 4, None)
        for value in (1.0, 2.0, 2.5, 9.0):
            fold.number(value, min(int(value // 2), 3))
        profile.features[(f"f{number:03d}", "b-1")] = fold
    plan = FeatureFold("categorical", "b-1", 0, 2)
    for text, slot in (("basic", 0), ("pro", 1), ("enterprise", -1), ("pro", 1)):
        plan.category(text, slot if slot >= 0 else None)
    profile.features[("plan", "b-1")] = plan
    profile.paths = {"": {"ok": 6, OTHER_LABEL: 1}, "scorer": {"no": 2}, OTHER_PATH: {"ok": 1}}
    profile.checks = {semconv.CHECK_NULL: [3, 2]}
    return profile


def _by_kind(documents: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    kinds: dict[str, list[dict[str, Any]]] = {}
    for document in documents:
        kinds.setdefault(document["attributes"]["ml.profile.kind"], []).append(document)
    return kinds


def test_the_module_examples_hold() -> None:
    assert doctest.testmod(feature_profiles).failed == 0


def test_the_mapping_is_the_same_for_one_feature_and_five_hundred() -> None:
    with cluster() as es:
        export_profiles(es, [[_profile(1)], [_profile(500, START + 60 * 10**9)]])
        stored = [doc for index, doc in es.stored.values() if index.startswith("metrics-modelspan.profile-")]
        (stream,) = {index for index, _ in es.stored.values() if index.startswith("metrics-modelspan.profile-")}
        fields = es.mappings[stream]["fields"]
    kinds = _by_kind(stored)
    assert len(kinds["feature"]) == 2 + 501 and len(kinds["quality"]) == 2 and len(kinds["operations"]) == 2
    mapped = feature_profiles.leaf_fields(feature_profiles.mapping()["properties"])
    assert len(fields) == mapped == 56  # no field per feature or bin: dynamic false, nothing added


def test_the_documents_carry_every_count_of_the_record() -> None:
    with cluster() as es:
        export_profiles(es, [[_profile(1)]])
        kinds = _by_kind([doc for index, doc in es.stored.values() if index.startswith("metrics-")])
    numeric = next(d for d in kinds["feature"] if d["attributes"]["ml.profile.feature"] == "f000")["metrics"]
    assert numeric["ml.profile.feature.bins"] == {"values": [0, 1, 3], "counts": [1, 2, 1]}
    assert numeric["ml.profile.feature.width"] == 4 and numeric["ml.profile.feature.sum"] == 14.5
    plan = next(d for d in kinds["feature"] if d["attributes"]["ml.profile.feature"] == "plan")["metrics"]
    assert plan["ml.profile.feature.categories"] == {"values": [0, 1], "counts": [1, 2]}
    (category,) = kinds["category"]
    assert category["attributes"]["ml.profile.category"] == "enterprise"
    paths = {(d["attributes"].get("ml.profile.path"), d["attributes"].get("ml.profile.label")):
             d["metrics"]["ml.profile.path.calls"] for d in kinds["path"]}
    # the SDK's "other" path and label count without a key: in the totals, in no bucket
    assert paths == {("", "ok"): 6, ("", None): 1, ("scorer", "no"): 2, (None, "ok"): 1}
    (quality,) = kinds["quality"]
    assert quality["metrics"]["ml.profile.check.null.values"] == 3
    assert quality["metrics"]["ml.profile.check.null.calls"] == 2


def test_a_lost_answer_stores_every_feature_document_once(tmp_path: Path) -> None:
    with BulkServer() as server:
        server.script(Fault(drop=True))  # stored, but the answer never arrives: the whole flush is sent again
        exporter = ElasticsearchSpanExporter(server.url, spool_dir=tmp_path / "spool",
                                             dead_letter_path=tmp_path / "dead.jsonl", profile_namespace="test")
        try:
            sent = exporter.export_profiles([_profile(3)])
            assert exporter.force_flush(10_000)
        finally:
            exporter.shutdown()
        stored = [doc for index, doc in server.stored.values() if index == profiles.data_stream_name("test")]
    stats = exporter.stats()
    assert len(stored) == sent == stats["exported"] == stats["stored"] == stats["duplicates"]
    assert stats["retries"] >= 1


def test_the_bulk_body_of_feature_documents_is_a_bulk_request(tmp_path: Path) -> None:
    with BulkServer(record=True) as server:
        exporter = ElasticsearchSpanExporter(server.url, spool_dir=tmp_path / "spool",
                                             dead_letter_path=tmp_path / "dead.jsonl", profile_namespace="test")
        try:
            exporter.export_profiles([_profile(2)])
            assert exporter.force_flush(10_000)
        finally:
            exporter.shutdown()
        lines = [json.loads(line) for body in server.bodies for line in body.splitlines() if line]
    assert {line["attributes"]["ml.profile.kind"] for line in lines[1::2]} == {
        "operations", "feature", "category", "path", "quality"}
    typecheck([Case("feature profiles bulk", "BulkBody", bulk_groups(lines))])
