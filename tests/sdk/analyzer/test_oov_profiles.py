"""The out-of-vocabulary rate from profiles: every call's tokens at any span sample rate (issue 13).

A planted rise of new words (``oov_traffic``) served at span sample rate 0.1 into the default store:
the OOV finding is made from the profiles, with the exact token counts of every call (single rows and
batches), and says so; the same traffic without the rise raises no alarm; and at 1.0 the profiles give
the rate the span path gives (the profile rows deleted, the same store answers from the spans).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import modelspan
from modelspan import findings
from modelspan.analyzer import analyze
from modelspan.store import ColumnStats
from modelspan.store.sqlite import SQLiteStore
from tests.sdk.analyzer.oov_traffic import CALLS, MODEL, Served, baseline, serve
from tests.sdk.analyzer.planted import REFERENCE, WINDOW


def answers(store: Any, made: modelspan.Baseline) -> tuple[ColumnStats, ColumnStats, dict[str, Any]]:
    """The note column of both hours and the note's drift finding (the analysed hour against the reference)."""
    store.save_baseline(made)
    before, after = (store.model_stats([store.question(MODEL, "1", window, made)])[0].columns["note"]
                     for window in (REFERENCE, WINDOW))
    (note,) = [f for f in analyze(store, WINDOW, reference=REFERENCE, write=False).findings
               if f[findings.TYPE] == findings.TYPE_DRIFT and f.get(findings.FEATURE_NAME) == "note"]
    return before, after, note


def oov_score(note: dict[str, Any]) -> float:
    found = re.search(r"oov_rate (-?[0-9.]+)", note[findings.SUMMARY])
    assert found is not None, note[findings.SUMMARY]
    return float(found[1])


def check_exact(stats: ColumnStats, served: Served) -> None:
    """Every call's notes and tokens, not the sampled spans'."""
    assert stats.oov_source == "profiles"
    assert (stats.count, stats.tokens, stats.oov_tokens) == (served.notes, served.tokens, served.oov_tokens)
    assert stats.oov_rate == pytest.approx(served.rate, rel=1e-12)


def _spans(path: Path) -> int:
    with SQLiteStore(path) as store:
        return int(store.connection.execute("SELECT count(*) FROM calls WHERE module = ''").fetchone()[0])


def test_a_planted_rise_is_found_from_profiles_at_a_tenth_of_the_spans(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    made = baseline()
    path = tmp_path / "sampled.db"
    reference, current = serve(("sqlite", str(path)), 0.1, made, monkeypatch)
    assert _spans(path) < 2 * CALLS // 5  # about one call in ten has a span
    with SQLiteStore(path, interval_seconds=600) as store:
        before, after, note = answers(store, made)
    check_exact(before, reference)
    check_exact(after, current)
    assert reference.oov_tokens == 0 and current.oov_tokens > current.tokens // 2
    assert note[findings.FLAGGED] and oov_score(note) == pytest.approx(current.rate, abs=1e-3)  # shown to 3 digits
    assert note[findings.SAMPLE_COUNT] == current.notes  # every call's notes
    assert (f"oov_rate from profiles (every call: {current.oov_tokens:,} of {current.tokens:,} tokens out of "
            f"vocabulary); reference from profiles (every call: 0 of {reference.tokens:,} tokens") in note[
                findings.SUMMARY]


def test_no_rise_no_alarm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made = baseline()
    path = tmp_path / "steady.db"
    reference, current = serve(("sqlite", str(path)), 0.1, made, monkeypatch, rise=False)
    with SQLiteStore(path, interval_seconds=600) as store:
        before, after, note = answers(store, made)
    check_exact(before, reference)
    check_exact(after, current)
    assert current.oov_tokens == 0 and after.oov_rate == 0.0
    assert not note[findings.FLAGGED] and oov_score(note) == 0.0
    assert "oov_rate from profiles (every call: 0 of" in note[findings.SUMMARY]


def test_at_full_rate_profiles_give_the_span_path_rate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made = baseline()
    path = tmp_path / "full.db"
    serve(("sqlite", str(path)), 1.0, made, monkeypatch)
    with SQLiteStore(path, interval_seconds=600) as store:
        profiled = answers(store, made)
        store.connection.execute("DELETE FROM profiles")  # the same store, answered from its spans
        spans = answers(store, made)
    for side in (0, 1):
        assert profiled[side].oov_source == "profiles" and spans[side].oov_source == "spans"
        assert spans[side].tokens is None and profiled[side].tokens is not None
        assert profiled[side].count == spans[side].count
        assert profiled[side].oov_rate == pytest.approx(spans[side].oov_rate, rel=1e-12)
    assert profiled[2][findings.FLAGGED] == spans[2][findings.FLAGGED] is True
    assert oov_score(profiled[2]) == oov_score(spans[2])
    assert "oov_rate from sampled spans; reference from sampled spans" in spans[2][findings.SUMMARY]


def test_profiles_written_without_token_counts_keep_the_span_rate(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Profile rows of an SDK before token counts answer everything else; the OOV rate stays the spans'."""
    made = baseline()
    path = tmp_path / "older.db"
    serve(("sqlite", str(path)), 1.0, made, monkeypatch)
    with SQLiteStore(path, interval_seconds=600) as store:
        profiled = answers(store, made)
        for rowid, features in store.connection.execute("SELECT rowid, features FROM profiles "
                                                        "WHERE features IS NOT NULL").fetchall():
            records = [{k: v for k, v in r.items() if k not in ("tokens", "oov_tokens", "oov_rate_sum",
                                                                 "oov_rate_count")} for r in json.loads(features)]
            store.connection.execute("UPDATE profiles SET features = ? WHERE rowid = ?", (json.dumps(records), rowid))
        older = answers(store, made)
    for side in (0, 1):
        assert older[side].oov_source == "spans" and older[side].tokens is None
        assert older[side].count == profiled[side].count  # the rest still from the profiles
        assert older[side].oov_rate == pytest.approx(profiled[side].oov_rate, rel=1e-12)
    assert "oov_rate from sampled spans" in older[2][findings.SUMMARY] and older[2][findings.FLAGGED]
