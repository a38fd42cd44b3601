"""Distribution findings: reference vs current shares per bin of each drifting column (issues 5, 7).

They come from the histograms the drift tests compared, so their counts must be exactly the
window's ``Analysis.stats`` counts and the baseline profile's (or the reference window's) counts.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections import defaultdict
from typing import Any

import numpy as np
import pytest

from modelspan import findings
from modelspan.analyzer import analyze, drift
from modelspan.analyzer._distributions import MAX_BINS, distribution_findings
from modelspan.analyzer._documents import Context
from modelspan.store import ModelStats, Operations
from tests.sdk.analyzer.planted import CLEAN, REFERENCE, WINDOW, Plan, Traffic, generate
from tests.sdk.analyzer.test_planted import BACKENDS, _elasticsearch


@pytest.fixture(scope="module")
def planted() -> Traffic:
    return generate(Plan(), calls=300)


def _by_feature(found: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for doc in found:
        if doc[findings.TYPE] == findings.TYPE_DISTRIBUTION:
            grouped[doc[findings.FEATURE_NAME]].append(doc)
    return grouped


def _flagged_columns(found: list[dict[str, Any]]) -> set[str]:
    return {doc[findings.ID].split(":")[3] for doc in found if doc[findings.FLAGGED]
            and doc[findings.TYPE] in (findings.TYPE_DRIFT, findings.TYPE_PREDICTION_DRIFT)}


@pytest.mark.parametrize("backend", ["elasticsearch", pytest.param("sqlite", marks=pytest.mark.slow)])
def test_shifted_feature_shares_are_the_counts_the_tests_compared(planted: Traffic, backend: str) -> None:
    with BACKENDS[backend](planted, True) as store:
        analysis = analyze(store, WINDOW)
    grouped = _by_feature(analysis.findings)
    assert set(grouped) == _flagged_columns(analysis.findings) >= {"age", "temp", "country"}
    assert "amount" not in grouped  # a clean column carries no evidence documents
    age = sorted(grouped["age"], key=lambda doc: doc[findings.METRIC_NAME])
    profile = planted.baseline.features["age"]
    column = analysis.stats[0].columns["age"]
    assert len(age) == len(profile.edges) + 1 == len(profile.bin_counts)
    assert [doc[findings.REFERENCE_COUNT] for doc in age] == [int(c) for c in profile.bin_counts]
    assert [doc[findings.SAMPLE_COUNT] for doc in age] == [int(c) for c in column.bin_counts]
    for side in (findings.METRIC_VALUE, findings.METRIC_REFERENCE_VALUE):
        assert sum(doc[side] for doc in age) == pytest.approx(1.0)
    assert age[0][findings.METRIC_NAME].startswith("00 [-inf, ")
    assert age[-1][findings.METRIC_NAME].endswith(", inf)")
    assert age[-1][findings.METRIC_VALUE] > 3 * age[-1][findings.METRIC_REFERENCE_VALUE]  # shifted upwards
    for doc in age:
        assert doc[findings.FLAGGED] is False
        assert doc[findings.ID] == f"distribution:fraud:2:age:{doc[findings.METRIC_NAME]}:{WINDOW.iso()[0]}"
        assert (doc[findings.WINDOW_START], doc[findings.REFERENCE_KIND]) == (WINDOW.iso()[0], "baseline")


def test_new_category_appears_with_no_reference_share(planted: Traffic) -> None:
    with _elasticsearch(planted) as store:
        analysis = analyze(store, WINDOW)
    country = {doc[findings.METRIC_NAME]: doc for doc in _by_feature(analysis.findings)["country"]}
    assert country["ZZ"][findings.METRIC_REFERENCE_VALUE] == 0.0 and country["ZZ"][findings.METRIC_VALUE] > 0.1
    profile = planted.baseline.features["country"]
    assert [country[name][findings.REFERENCE_COUNT] for name in profile.categories] == [
        int(c) for c in profile.category_counts]
    for side in (findings.METRIC_VALUE, findings.METRIC_REFERENCE_VALUE):
        assert sum(doc[side] for doc in country.values()) == pytest.approx(1.0)


def test_window_reference_shares_are_the_reference_windows_counts(planted: Traffic) -> None:
    with _elasticsearch(planted) as store:
        analysis = analyze(store, WINDOW, reference="previous")
    age = sorted(_by_feature(analysis.findings)["age"], key=lambda doc: doc[findings.METRIC_NAME])
    before = analysis.reference_stats[0].columns["age"]
    assert [doc[findings.REFERENCE_COUNT] for doc in age] == [int(c) for c in before.bin_counts]
    assert {doc[findings.REFERENCE_KIND] for doc in age} == {"previous"}


def test_clean_traffic_writes_no_distributions() -> None:
    with _elasticsearch(generate(CLEAN, calls=300)) as store:
        analysis = analyze(store, WINDOW)
    assert not _flagged_columns(analysis.findings)
    assert not _by_feature(analysis.findings)


def test_rerun_replaces_the_same_ids(planted: Traffic) -> None:
    with _elasticsearch(planted) as store:
        first = analyze(store, WINDOW)
        stored = store.read_findings(WINDOW, types=[findings.TYPE_DISTRIBUTION])
        second = analyze(store, WINDOW)
        again = store.read_findings(WINDOW, types=[findings.TYPE_DISTRIBUTION])
    ids = [doc[findings.ID] for doc in first.findings if doc[findings.TYPE] == findings.TYPE_DISTRIBUTION]
    assert ids and len(ids) == len(set(ids))
    assert ids == [doc[findings.ID] for doc in second.findings if doc[findings.TYPE] == findings.TYPE_DISTRIBUTION]
    assert sorted(doc[findings.ID] for doc in stored) == sorted(doc[findings.ID] for doc in again) == sorted(ids)


def _context() -> Context:
    return Context(WINDOW, "window", REFERENCE, _dt.datetime(2026, 11, 22, 11, 5, tzinfo=_dt.timezone.utc).isoformat())


def _stats() -> ModelStats:
    return ModelStats("m", "1", Operations(), {}, {}, 0, {}, {})


def test_fine_histograms_are_merged_to_at_most_max_bins() -> None:
    stats = _stats()
    edges = np.linspace(0.0, 1.0, 149)  # 150 bins
    before, after = np.arange(150, dtype=float), np.ones(150)
    docs = distribution_findings(_context(), stats, "x", drift.Binned(before, edges), drift.Binned(after, edges))
    assert len(docs) == 50 <= MAX_BINS  # runs of three adjacent bins
    assert sum(doc[findings.REFERENCE_COUNT] for doc in docs) == before.sum()
    assert sum(doc[findings.SAMPLE_COUNT] for doc in docs) == 150
    labels = [doc[findings.METRIC_NAME] for doc in docs]
    assert labels == sorted(labels) and labels[0] == "00 [-inf, 0.0135)" and labels[-1] == "49 [0.986, inf)"


def test_many_categories_fold_into_other() -> None:
    stats = _stats()
    before = drift.Categories({f"c{i:03d}": i + 1 for i in range(100)} | {"__other__": 5})
    after = drift.Categories({f"c{i:03d}": 1 for i in range(100)})
    docs = distribution_findings(_context(), stats, "city", before, after)
    names = [doc[findings.METRIC_NAME] for doc in docs]
    assert len(docs) == MAX_BINS and names[-1] == "__other__" and "c099" in names and "c000" not in names
    assert sum(doc[findings.REFERENCE_COUNT] for doc in docs) == sum(before.counts.values())
    assert sum(doc[findings.METRIC_VALUE] for doc in docs) == pytest.approx(1.0)


def test_the_drift_dashboards_distribution_table_reads_fields_these_documents_carry(planted: Traffic) -> None:
    from kibana import _dashboards

    panels = json.loads(_dashboards.drift()["attributes"]["panelsJSON"])
    table = next(p for p in panels if p["title"] == "Reference vs current distribution per feature")
    state = table["embeddableConfig"]["attributes"]["state"]
    columns = next(iter(state["datasourceStates"]["formBased"]["layers"].values()))["columns"]
    with _elasticsearch(planted) as store:
        analysis = analyze(store, WINDOW)
    docs = [doc for doc in analysis.findings if doc[findings.TYPE] == findings.TYPE_DISTRIBUTION]
    assert state["query"]["query"] == f'{findings.TYPE} : "{findings.TYPE_DISTRIBUTION}"'
    assert docs and all(column["sourceField"] in doc for doc in docs for column in columns.values())
    bins = next(column for column in columns.values() if column["sourceField"] == findings.METRIC_NAME)
    assert bins["params"]["size"] >= MAX_BINS and bins["params"]["orderBy"]["type"] == "alphabetical"
