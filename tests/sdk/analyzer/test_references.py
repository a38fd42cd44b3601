"""Findings of different references never overwrite each other (issue 12, item 7)."""

from __future__ import annotations

from pathlib import Path

from modelspan import findings as F
from modelspan.analyzer import analyze
from modelspan.store.sqlite import SQLiteStore
from tests.sdk.analyzer.planted import WINDOW, Plan, generate


def test_a_window_analysed_against_two_references_keeps_both(tmp_path: Path) -> None:
    traffic = generate(Plan(shift="age", unit_change=None, new_category=False, novel_path=False, slow_module=None,
                            accuracy_drop=False), calls=300)
    with SQLiteStore(tmp_path / "store.db", interval_seconds=600) as store:
        store.save_baseline(traffic.baseline)
        store.load_documents(traffic.documents)
        against_baseline = analyze(store, WINDOW, reference="baseline")
        against_previous = analyze(store, WINDOW, reference="previous")
        again = analyze(store, WINDOW, reference="baseline")  # replaces its own findings only
        stored = {d[F.ID]: d for d in store.read_findings(window=WINDOW) if d[F.TYPE] == F.TYPE_DRIFT}
    baseline_ids = {d[F.ID] for d in against_baseline.findings}
    previous_ids = {d[F.ID] for d in against_previous.findings}
    assert {d[F.ID] for d in again.findings} == baseline_ids
    assert not baseline_ids & previous_ids, baseline_ids & previous_ids
    drift = "drift:fraud:2:age:2026-11-22T10:00:00.000Z"
    assert stored[drift][F.REFERENCE_KIND] == "baseline" and stored[drift][F.FLAGGED]
    assert stored[drift + "@previous"][F.REFERENCE_KIND] == "previous" and stored[drift + "@previous"][F.FLAGGED]
    assert {i for i in stored if i.endswith("@previous")} == {i for i in previous_ids if i.startswith("drift:")}
