"""The planted-problem suite on Elasticsearch: from profiles at span sample rate 0.01, SQLite's findings at 1.0.

``test_planted_profiles`` serves a reference and a planted hour (shift, unit change, new category, novel
path, slow sub-module, error burst) into the default store. Here the same traffic goes at span sample
rate 0.01 through the real Elasticsearch exporter into the loopback Elasticsearch (after ``modelspan
elastic setup``), and the analysis of its store must give the findings, flags and sample counts that
SQLite gives at 1.0: drift, data quality, output drift and paths come from the per-feature profile
documents, not from the one span in a hundred.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from modelspan import findings
from modelspan.analyzer import analyze
from modelspan.exporters.elasticsearch import ElasticsearchSpanExporter
from modelspan.store.elasticsearch import ElasticsearchStore
from tests.sdk.analyzer.planted import MODEL, REFERENCE, WINDOW
from tests.sdk.analyzer.test_planted_profiles import CALLS, _findings, _key, _run
from tests.store.elasticsearch.ingest import cluster


def _es_findings(url: str, baseline: Any) -> tuple[list[dict[str, Any]], int]:
    with ElasticsearchStore(url, interval_seconds=600) as store:
        store.refresh()
        store.save_baseline(baseline)
        found = analyze(store, WINDOW, write=False).findings
        stats = store.model_stats([store.question(MODEL, "2", WINDOW, baseline)])[0]
    return found, stats.operations.calls


@pytest.mark.slow
def test_planted_problems_on_elasticsearch_at_one_percent_match_sqlite_at_full_rate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    baseline = _run(tmp_path / "full.db", 1.0, monkeypatch)
    full, full_calls, _ = _findings(tmp_path / "full.db", baseline)
    with cluster() as fake:
        exporter = ElasticsearchSpanExporter(fake.url, spool_dir=tmp_path / "spool", dead_letter_path=tmp_path / "dead")
        es_baseline = _run(tmp_path / "unused.db", 0.01, monkeypatch, exporter=exporter)
        assert not exporter.dead_letters.read()
        spans = sum(1 for index, document in fake.stored.values() if index.startswith("traces-")
                    and document["attributes"].get("ml.span.kind") == "model"
                    and document["@timestamp"] >= REFERENCE.start.isoformat())
        sampled, sampled_calls = _es_findings(fake.url, es_baseline)
    assert full_calls == sampled_calls == CALLS and spans < CALLS // 10  # every call, few spans
    assert sorted(map(_key, full), key=repr) == sorted(map(_key, sampled), key=repr)
    counts = {_key(f): f.get(findings.SAMPLE_COUNT) for f in full}
    assert counts == {_key(f): f.get(findings.SAMPLE_COUNT) for f in sampled}  # exact counts, not estimates
    assert any(f[findings.FLAGGED] and f[findings.TYPE] == findings.TYPE_DRIFT for f in sampled)
