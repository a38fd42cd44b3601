"""The out-of-vocabulary rate from profile documents on Elasticsearch (issue 13).

The planted rise of ``oov_traffic`` at span sample rate 0.1 through the real Elasticsearch exporter
into the loopback Elasticsearch (after ``modelspan elastic setup``): the per-feature documents carry
every call's tokens, and the Elasticsearch store gives the exact counts and the finding SQLite gives
from its profile rows; without the rise, no alarm.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from modelspan import findings
from modelspan.elasticsearch import feature_profiles as fp
from modelspan.exporters.elasticsearch import ElasticsearchSpanExporter
from modelspan.store.elasticsearch import ElasticsearchStore
from modelspan.store.sqlite import SQLiteStore
from tests.sdk.analyzer.oov_traffic import CALLS, baseline, serve
from tests.sdk.analyzer.test_oov_profiles import answers, check_exact, oov_score
from tests.store.elasticsearch.ingest import cluster


@pytest.mark.parametrize("rise", [True, False])
def test_elasticsearch_gives_the_exact_oov_counts_and_sqlites_finding(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rise: bool) -> None:
    made = baseline()
    serve(("sqlite", str(tmp_path / "sqlite.db")), 0.1, made, monkeypatch, rise=rise)
    with SQLiteStore(tmp_path / "sqlite.db", interval_seconds=600) as store:
        on_sqlite = answers(store, made)
    with cluster([made]) as fake:
        exporter = ElasticsearchSpanExporter(fake.url, spool_dir=tmp_path / "spool", dead_letter_path=tmp_path / "dead")
        reference, current = serve(exporter, 0.1, made, monkeypatch, rise=rise)
        assert not exporter.dead_letters.read()
        spans = [d for i, d in fake.stored.values() if i.startswith("traces-")]
        notes = [d for i, d in fake.stored.values() if i.startswith("metrics-modelspan.profile-")
                 and d["attributes"].get(fp.FEATURE_ATTRIBUTE) == "note"]
        with ElasticsearchStore(fake.url, interval_seconds=600) as store:
            store.refresh()
            on_es = answers(store, made)
    assert len(spans) < 2 * CALLS // 5  # about one call in ten has a span
    assert sum(d["metrics"][fp.feature_metric("tokens")] for d in notes) == reference.tokens + current.tokens
    check_exact(on_es[0], reference)
    check_exact(on_es[1], current)
    for side in (0, 1):
        assert (on_es[side].tokens, on_es[side].oov_tokens) == (on_sqlite[side].tokens, on_sqlite[side].oov_tokens)
    note = on_es[2]
    assert note[findings.FLAGGED] is rise is on_sqlite[2][findings.FLAGGED]
    assert oov_score(note) == oov_score(on_sqlite[2]) and note[findings.SUMMARY] == on_sqlite[2][findings.SUMMARY]
    assert f"oov_rate from profiles (every call: {current.oov_tokens:,} of {current.tokens:,}" in note[
        findings.SUMMARY]


def test_feature_documents_without_token_counts_keep_the_span_rate(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Documents of an SDK before token counts answer everything else; the OOV rate stays the spans'."""
    made = baseline()
    with cluster([made]) as fake:
        exporter = ElasticsearchSpanExporter(fake.url, spool_dir=tmp_path / "spool", dead_letter_path=tmp_path / "dead")
        serve(exporter, 1.0, made, monkeypatch)
        with ElasticsearchStore(fake.url, interval_seconds=600) as store:
            store.refresh()
            profiled = answers(store, made)
            for identifier, (index, document) in list(fake.stored.items()):  # re-indexed as an older SDK wrote them
                if index.startswith("metrics-modelspan.profile-"):
                    metrics = {k: v for k, v in document["metrics"].items()
                               if k not in {fp.feature_metric(stat) for stat in fp.TEXT_COUNTS + fp.TEXT_SUMS}}
                    fake._store("index", index, identifier, {**document, "metrics": metrics})
            older = answers(store, made)
    for side in (0, 1):
        assert profiled[side].oov_source == "profiles" and older[side].oov_source == "spans"
        assert older[side].count == profiled[side].count and older[side].tokens is None
        assert older[side].oov_rate == pytest.approx(profiled[side].oov_rate, rel=1e-12)
    assert "oov_rate from sampled spans" in older[2][findings.SUMMARY] and older[2][findings.FLAGGED]
