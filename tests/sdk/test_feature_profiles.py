"""Per-feature profiles (docs/profiles.md): inputs, outputs, paths and data quality of every call."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from opentelemetry.sdk.trace import TracerProvider

import modelspan
from modelspan.instrumentation import _feature_profiles, _profiles
from modelspan.instrumentation._feature_profiles import CallSummary, summarise_input
from modelspan.profiling import _inputs
from modelspan.store.sqlite import SQLiteStore
from modelspan.store.types import ModelStats, Window


def _window() -> Window:
    now = dt.datetime.now(dt.timezone.utc)
    return Window(now - dt.timedelta(hours=1), now + dt.timedelta(minutes=5))


def _baseline() -> modelspan.Baseline:
    rng = np.random.default_rng(1)
    data = {"x": rng.normal(0.0, 1.0, 2000).tolist(), "city": rng.choice(["a", "b", "c"], 2000).tolist(),
            "label": rng.choice(["yes", "no"], 2000).tolist()}
    return modelspan.Baseline.from_data(data, model="m", version="1", output="label", categorical=["city"])


def _rows(n: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(2)
    rows: list[dict[str, Any]] = []
    for i in range(n):
        row: dict[str, Any] = {"x": float(rng.normal(0.5, 1.5)), "city": str(rng.choice(["a", "b", "c", "new"]))}
        if i % 17 == 0:
            row["x"] = None
        elif i % 23 == 0:
            row["x"] = float("nan")
        elif i % 29 == 0:
            row["x"] = "text"
        elif i % 31 == 0:
            del row["city"]
        rows.append(row)
    return rows


def _serve(path: Path, rows: list[dict[str, Any]], batch: int, sample_rate: float) -> None:
    provider = TracerProvider()
    modelspan.configure(tracer_provider=provider, exporter="sqlite", store=str(path), sample_rate=sample_rate)

    @modelspan.monitor(model="m", version="1", baseline=_baseline(), task="classification")
    def predict(value: Any) -> Any:
        with modelspan.module("score"):
            pass
        if isinstance(value, list):
            return ["yes" if isinstance(r.get("x"), float) and r["x"] > 0 else "no" for r in value]
        return "yes" if isinstance(value.get("x"), float) and value["x"] > 0 else "no"

    try:
        step = max(batch, 1)
        for start in range(0, len(rows), step):
            predict(rows[start:start + step] if batch else rows[start])
            modelspan.force_flush()  # paced: every span is kept
    finally:
        modelspan.shutdown()
        provider.shutdown()


def _stats(path: Path) -> ModelStats:
    with SQLiteStore(path) as store:
        baseline = _baseline()
        store.save_baseline(baseline)
        return store.model_stats([store.question("m", "1", _window(), baseline)])[0]


def _columns(stats: ModelStats) -> dict[str, Any]:
    return {name: (c.count, c.null_count, c.nan_count, c.type_change_count, c.out_of_range_count, c.unseen_count,
                   c.bin_counts, c.category_counts, c.other_count, c.unbinned_count, c.min, c.max,
                   round(c.sum, 6), round(c.sum_sq, 6))
            for name, c in stats.columns.items()}


@pytest.mark.parametrize("batch", [0, 25])
def test_the_profile_answer_equals_the_span_answer_when_every_span_is_kept(tmp_path: Path, batch: int) -> None:
    path = tmp_path / "store.db"
    _serve(path, _rows(400), batch, 1.0)
    profiled = _stats(path)
    with sqlite3.connect(path) as connection:  # the same window as data written before version 6
        connection.execute("UPDATE profiles SET features = NULL")
    spanned = _stats(path)
    assert _columns(profiled) == _columns(spanned)
    assert profiled.columns["x"].count > 300 and profiled.columns["city"].unseen_count > 50
    assert {p: s.count for p, s in profiled.paths.items()} == {p: s.count for p, s in spanned.paths.items()}
    assert {p: s.labels for p, s in profiled.paths.items()} == {p: s.labels for p, s in spanned.paths.items()}
    assert profiled.quality == spanned.quality


def test_single_rows_at_one_percent_give_the_statistics_of_batches_at_one(tmp_path: Path) -> None:
    rows = _rows(400)
    _serve(tmp_path / "rows.db", rows, 0, 0.01)
    _serve(tmp_path / "batches.db", rows, 40, 1.0)
    single, batched = _stats(tmp_path / "rows.db"), _stats(tmp_path / "batches.db")
    assert _columns(single)["x"] == _columns(batched)["x"]
    assert _columns(single)["city"] == _columns(batched)["city"]
    assert single.columns["_output"].category_counts == batched.columns["_output"].category_counts
    assert sum(single.columns["_output"].category_counts) == 400


def test_a_store_of_schema_version_5_is_migrated_and_still_answers_from_spans(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _serve(path, _rows(60), 0, 1.0)
    with sqlite3.connect(path) as connection:  # make it the file version 5 wrote
        for column in ("features", "paths", "checks", "features_dropped"):
            connection.execute(f"ALTER TABLE profiles DROP COLUMN {column}")
        connection.execute("PRAGMA user_version = 5")
    stats = _stats(path)  # opening migrates: the columns come back, NULL on the old rows
    assert stats.operations.calls == 60
    assert stats.columns["x"].count + stats.columns["x"].null_count + stats.columns["x"].nan_count + stats.columns[
        "x"].type_change_count == 60  # every call's x, from the spans
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == 6
        assert connection.execute("SELECT count(*) FROM profiles WHERE features IS NOT NULL").fetchone()[0] == 0


def test_a_batch_fold_equals_folding_its_rows_one_by_one() -> None:
    baseline = _baseline()
    rows = [r for r in _rows(200) if isinstance(r.get("x"), float) and "city" in r]
    whole: dict[Any, Any] = {}
    batch = _inputs.normalise(rows, None, "x")
    summary = CallSummary()
    summarise_input(batch, baseline, {}, summary)
    _feature_profiles.fold_into(whole, summary)
    one_by_one: dict[Any, Any] = {}
    for row in rows:
        summary = CallSummary()
        summarise_input(_inputs.Row(row), baseline, {}, summary)
        delta: dict[Any, Any] = {}
        _feature_profiles.fold_into(delta, summary)
        _feature_profiles.merge_into(one_by_one, delta)
    for key, fold in whole.items():
        a, b = fold.record(key[0]), one_by_one[key].record(key[0])
        assert a.pop("sum") == pytest.approx(b.pop("sum")) and a.pop("sum_sq") == pytest.approx(b.pop("sum_sq"))
        assert a == b


def test_without_a_baseline_moments_and_tracked_categories_are_kept_within_their_bound() -> None:
    features: dict[Any, Any] = {}
    for i in range(_feature_profiles.MAX_TRACKED_CATEGORIES + 36):
        summary = CallSummary()
        summarise_input(_inputs.Row({"v": float(i), "c": f"k{i}"}), None, {}, summary)
        _feature_profiles.fold_into(features, summary)
    numbers, categories = features[("v", None)].record("v"), features[("c", None)].record("c")
    assert (numbers["count"], numbers["min"], numbers["max"], numbers["bins"]) == (100, 0.0, 99.0, None)
    assert numbers["sum"] == sum(range(100)) and numbers["sum_sq"] == sum(i * i for i in range(100))
    assert len(categories["top"]) == _feature_profiles.MAX_TRACKED_CATEGORIES
    assert categories["top_other"] == 36 and categories["count"] == 100  # the rest counted, not lost


def test_features_beyond_the_bound_are_counted_not_held(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_feature_profiles, "MAX_FEATURES", 3)
    profiles = _profiles._Profiles()
    summary = CallSummary()
    summarise_input(_inputs.Row({f"f{i}": float(i) for i in range(5)}), None, {}, summary)
    profiles.record("m", "1", "", 0, 1_000, False, 1.0, False, summary)
    (profile,) = profiles.take()
    assert len(profile.features) == 3 and profile.features_dropped == 2


def test_a_window_that_cuts_a_profile_interval_is_answered_from_spans(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    rows = _rows(120)
    _serve(path, rows, 0, 1.0)
    with sqlite3.connect(path) as connection:
        first = connection.execute("SELECT min(start_ns) FROM profiles").fetchone()[0]
    end = dt.datetime.fromtimestamp(first / 1e9 + 0.001, dt.timezone.utc)  # a millisecond into the first minute
    window = Window(end - dt.timedelta(minutes=5), end)  # short: a long one is answered in whole minutes
    with SQLiteStore(path) as store:
        baseline = _baseline()
        store.save_baseline(baseline)
        cut = store.model_stats([store.question("m", "1", window, baseline)])[0]
        with sqlite3.connect(path) as connection:
            connection.execute("UPDATE profiles SET features = NULL")
        spans = store.model_stats([store.question("m", "1", window, baseline)])[0]
    assert _columns(cut) == _columns(spans)  # the span answer: no call after the window's end is counted
    assert cut.columns["x"].count < 120


def test_operations_of_a_window_that_cuts_a_profile_interval_come_from_spans(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    _serve(path, _rows(120), 0, 0.5)  # half the spans sampled out: profile and span counts differ
    with sqlite3.connect(path) as connection:
        first, last = connection.execute("SELECT min(start_ns), max(start_ns + interval_ns) FROM profiles").fetchone()
        (in_first,) = connection.execute("SELECT sum(calls) FROM profiles WHERE module = '' AND start_ns = ?",
                                         (first,)).fetchone()
    at = dt.datetime.fromtimestamp(first / 1e9 + 0.001, dt.timezone.utc)  # a millisecond into the first minute
    cut = Window(at - dt.timedelta(minutes=5), at)
    long_cut = Window(at - dt.timedelta(hours=1), at)
    whole = Window(dt.datetime.fromtimestamp(first / 1e9 - 3600, dt.timezone.utc),
                   dt.datetime.fromtimestamp(last / 1e9, dt.timezone.utc))
    with SQLiteStore(path) as store:
        answers = store.model_stats([store.question("m", "1", w, None) for w in (cut, whole, long_cut)])
        with sqlite3.connect(path) as connection:
            connection.execute("DELETE FROM profiles")
        from_spans = store.model_stats([store.question("m", "1", cut, None)])[0]
    assert answers[1].operations.calls == 120  # whole minutes: every call, from the profiles
    assert answers[0].operations.calls == from_spans.operations.calls < 120  # the cut one: the spans' answer
    assert set(answers[0].modules) == set(from_spans.modules)
    assert answers[2].operations.calls == in_first  # an hour long: whole minutes, each where it starts
