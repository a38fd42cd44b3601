"""SQLiteStore specifics: pragmas, migrations, sample-rate scaling, exact percentiles, findings,
baselines, checkpoints and bounded retention, on real files."""

from __future__ import annotations

import datetime as _dt
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelspan import findings, semconv
from modelspan.sqlite import _schema
from modelspan.sqlite._retention import purge
from modelspan.sqlite._rows import span_row
from modelspan.store import Window
from modelspan.store.sqlite import SQLiteStore
from tests.store.elasticsearch.scenario import questions_for
from tests.store.elasticsearch.traffic import WINDOW, generate

START_NS = int(WINDOW.start.timestamp()) * 10**9


def _document(n: int, offset_s: float, *, rate: float | None = None, duration: int = 10**6,
              error: bool = False) -> dict[str, Any]:
    attributes: dict[str, Any] = {semconv.SPAN_KIND: semconv.SPAN_KIND_MODEL, semconv.MODEL_NAME: "m",
                                  semconv.MODEL_VERSION: "1", semconv.feature_value("x"): float(n)}
    if rate is not None:
        attributes[semconv.SAMPLE_RATE] = rate
    moment = START_NS + int(offset_s * 1e9)
    return {"@timestamp": f"{moment // 10**6}.{moment % 10**6}", "trace_id": f"{n:032x}", "span_id": f"{n:016x}",
            "name": "predict m", "kind": "Internal", "duration": duration,
            "status": {"code": "Error" if error else "Unset"}, "attributes": attributes}


def test_pragmas_and_schema_version(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s.db") as store:
        assert store.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.connection.execute("PRAGMA user_version").fetchone()[0] == _schema.SCHEMA_VERSION
        assert store.connection.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_version_1_files_are_migrated_with_their_spans(tmp_path: Path) -> None:
    traffic = generate(singles=40, batches=4, batch_size=8)
    old = tmp_path / "v1.db"
    # sqlite3's own context manager commits but never closes (Python 3.13 warns when one is collected open)
    with closing(sqlite3.connect(old)) as connection, connection:  # what the first schema held: spans only
        connection.execute(_schema.SPANS_TABLE_V1)
        for statement in _schema.SPANS_INDEXES:
            connection.execute(statement)
        connection.executemany(f"INSERT INTO spans VALUES ({', '.join('?' * 18)})",
                               [span_row(d) for d in traffic.documents])
        connection.execute("PRAGMA user_version = 1")
    with SQLiteStore(old, interval_seconds=600) as migrated, \
            SQLiteStore(tmp_path / "fresh.db", interval_seconds=600) as fresh:
        fresh.load_documents(traffic.documents)
        for store in (migrated, fresh):
            store.save_baseline(traffic.baseline)
        questions = questions_for(traffic)
        assert migrated.model_stats(questions) == fresh.model_stats(questions)
        assert migrated.model_stats(questions)[0].operations.calls == 44
        assert migrated.connection.execute("SELECT count(*) FROM spans").fetchone()[0] == len(traffic.documents)
        ddl = migrated.connection.execute("SELECT sql FROM sqlite_schema WHERE name = 'spans'").fetchone()[0]
        assert "WITHOUT ROWID" not in ddl
        indexes = {r[0] for r in migrated.connection.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'spans'")}
        assert {"spans_trace", "spans_time", "spans_prediction", "spans_model_traces", "spans_server_time"} <= indexes


def test_a_baseline_saved_after_its_spans_bins_them_once(tmp_path: Path) -> None:
    traffic = generate(singles=60, batches=3, batch_size=8)
    questions = questions_for(traffic)
    with SQLiteStore(tmp_path / "late.db", interval_seconds=600) as late, \
            SQLiteStore(tmp_path / "early.db", interval_seconds=600) as early:
        early.save_baseline(traffic.baseline)
        early.load_documents(traffic.documents)
        late.load_documents(traffic.documents)
        unbinned = "SELECT count(*) FROM value_bins WHERE bin = -1"
        assert late.connection.execute(unbinned).fetchone()[0] > 0
        before = late.model_stats(questions)  # answered exactly from the raw values meanwhile
        late.save_baseline(traffic.baseline)
        assert late.connection.execute(unbinned).fetchone()[0] == 0
        assert before == late.model_stats(questions) == early.model_stats(questions)


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    with closing(sqlite3.connect(tmp_path / "new.db")) as connection, connection:
        connection.execute("PRAGMA user_version = 99")
    with pytest.raises(RuntimeError, match="newer"):
        SQLiteStore(tmp_path / "new.db")


def test_intervals_scale_by_sample_rate_and_percentiles_are_numpys(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    durations = rng.integers(10**6, 10**8, 300)
    documents = [_document(n, n * 10.0, rate=0.25 if n % 2 else None, duration=int(durations[n]), error=n % 10 == 0)
                 for n in range(300)]  # 3000 s: five 600 s intervals
    with SQLiteStore(tmp_path / "s.db", interval_seconds=600) as store:
        assert store.load_documents(documents) == 300
        assert store.load_documents(documents) == 0  # replays add nothing
        assert store.load_documents([{"span_id": "x"}, {"@timestamp": "soon", "span_id": "y"}]) == 0
        assert store.rejected_documents == 2  # unreadable documents are counted (and logged), not stored
        stats = store.model_stats([store.question("m", "1", WINDOW)])[0]
    operations = stats.operations
    assert (operations.calls, operations.errors) == (300, 30)
    assert len(operations.intervals) == 6  # the window's hour, empty tail included
    first = operations.intervals[0]
    assert (first.calls, first.scaled_calls, first.seconds) == (60, 30 + 30 * 4, 600)
    assert first.qps == pytest.approx(150 / 600)
    for index, interval in enumerate(operations.intervals[:5]):
        part = durations[index * 60:(index + 1) * 60]
        assert interval.latency_ms == pytest.approx(dict(zip((50.0, 90.0, 95.0, 99.0),
                                                             np.percentile(part, [50, 90, 95, 99]) / 1e6,
                                                             strict=True)), rel=1e-12)
    assert operations.intervals[5].calls == 0 and operations.intervals[5].latency_ms[50.0] is None
    assert operations.mean_latency_ms == pytest.approx(durations.mean() / 1e6)


def test_models_are_listed_busiest_first(tmp_path: Path) -> None:
    documents = [_document(n, 1.0) for n in range(3)]
    other = _document(99, 2.0)
    other["attributes"][semconv.MODEL_NAME] = "aaa"
    with SQLiteStore(tmp_path / "s.db") as store:
        store.load_documents([*documents, other])
        assert store.models(WINDOW) == [("m", "1", 3), ("aaa", "1", 1)]
        later = Window(WINDOW.end, WINDOW.end + _dt.timedelta(hours=1))
        assert store.models(later) == []
        empty = store.model_stats([store.question("nobody", "0", WINDOW)])[0]
        assert empty.operations.calls == 0 and empty.paths == {}


def test_findings_replace_by_id_and_filter(tmp_path: Path) -> None:
    def finding(kind: str, model: str, hour: int, score: float) -> dict[str, Any]:
        start, end = f"2026-11-22T{hour:02d}:00:00.000Z", f"2026-11-22T{hour + 1:02d}:00:00.000Z"
        return {findings.ID: f"{kind}:{model}:{hour}", findings.TYPE: kind, findings.MODEL_NAME: model,
                findings.TIMESTAMP: end, findings.WINDOW_START: start, findings.WINDOW_END: end,
                findings.TEST_SCORE: score}

    with SQLiteStore(tmp_path / "s.db") as store:
        assert store.write_findings([finding("drift", "m", 10, 1.0), finding("latency", "m", 10, 2.0),
                                     finding("drift", "n", 11, 3.0)]) == 3
        assert store.write_findings([finding("drift", "m", 10, 9.0)]) == 1
        everything = store.read_findings()
        assert [f[findings.ID] for f in everything] == ["drift:m:10", "drift:n:11", "latency:m:10"]
        assert everything[0][findings.TEST_SCORE] == 9.0
        assert [f[findings.ID] for f in store.read_findings(WINDOW)] == ["drift:m:10", "latency:m:10"]
        assert [f[findings.ID] for f in store.read_findings(types=["drift"], model="n")] == ["drift:n:11"]


def test_baselines_and_checkpoints(tmp_path: Path) -> None:
    traffic = generate(singles=5, batches=1, batch_size=2)
    with SQLiteStore(tmp_path / "s.db") as store:
        assert store.load_baseline("churn", "3") is None
        store.save_baseline(traffic.baseline)
        loaded = store.load_baseline("churn", "3")
        assert loaded is not None and loaded.to_dict() == traffic.baseline.to_dict()
        assert store.get_checkpoint("analyze") is None
        store.set_checkpoint("analyze", "2026-11-22T10:00:00Z")
        store.set_checkpoint("analyze", "2026-11-22T11:00:00Z")
        assert store.get_checkpoint("analyze") == "2026-11-22T11:00:00Z"


def test_retention_works_in_bounded_chunks(tmp_path: Path) -> None:
    documents = [_document(n, n * 1.0) for n in range(50)]
    with SQLiteStore(tmp_path / "s.db") as store:
        store.load_documents(documents)
        cutoff = START_NS + 30 * 10**9  # rounded down to a whole minute: nothing in that minute goes
        cutoff_minute = START_NS + 60 * 10**9 + 5 * 10**9
        assert purge(store.connection, cutoff, chunk=10) == (0, True)
        deleted, finished = purge(store.connection, cutoff_minute, chunk=10, max_chunks=2)
        assert (deleted, finished) == (20, False)
        assert purge(store.connection, cutoff_minute, chunk=10) == (30, True)
        stats = store.model_stats([store.question("m", "1", WINDOW)])[0]
        assert stats.operations.calls == 0
        remaining = store.connection.execute("SELECT count(*) FROM span_values").fetchone()[0]
        assert remaining == 0


def test_version_2_files_get_the_minute_rollups(tmp_path: Path) -> None:
    """Version 2 -> 3 builds ``call_minutes``/``check_minutes`` from the rows they sum, as writes would."""
    traffic = generate(singles=40, batches=4, batch_size=8)
    questions = questions_for(traffic)
    rollups = ("call_minutes", "check_minutes")
    old = tmp_path / "v2.db"
    with SQLiteStore(old, interval_seconds=600) as store:
        store.save_baseline(traffic.baseline)
        store.load_documents(traffic.documents)
        expected = store.model_stats(questions)
        written = {t: store.connection.execute(f"SELECT * FROM {t} ORDER BY 1, 2, 3, 4").fetchall() for t in rollups}
        for table in rollups:  # what a version 2 file is: the same tables without the rollups
            store.connection.execute(f"DROP TABLE {table}")
        store.connection.execute("PRAGMA user_version = 2")
    assert all(written.values())
    with SQLiteStore(old, interval_seconds=600) as migrated:
        assert migrated.connection.execute("PRAGMA user_version").fetchone()[0] == _schema.SCHEMA_VERSION
        assert {t: migrated.connection.execute(f"SELECT * FROM {t} ORDER BY 1, 2, 3, 4").fetchall()
                for t in rollups} == written
        assert migrated.model_stats(questions) == expected


def _at(n: int, moment_ns: int, *, failed: bool = False) -> dict[str, Any]:
    document = _document(n, 0.0)
    document["@timestamp"] = f"{moment_ns // 10**6}.{moment_ns % 10**6}"
    if failed:
        document["attributes"][semconv.quality_count(semconv.CHECK_NULL)] = 2
        document["attributes"][semconv.quality_features(semconv.CHECK_NULL)] = ["x", "y"]
    return document


@pytest.mark.parametrize("interval_seconds", [300, 90])
def test_every_span_of_a_half_open_window_is_counted_once(tmp_path: Path, interval_seconds: int) -> None:
    """Whole minutes are read from the rollups and ragged ends from the rows: each span counts exactly once,
    a span at the window's last nanosecond is in, one at its end is in the next window.

    (The benchmark's million-span run once counted 999,748: its generator had put 252 spans at or after
    the end of the hour it analysed; the store counted every span inside.)
    """
    minute = 60 * 10**9
    edges = [START_NS - 1, START_NS, START_NS + minute - 1, START_NS + minute, START_NS + 90 * 10**9,
             START_NS + 60 * minute - 1, START_NS + 60 * minute]
    rng = np.random.default_rng(5)
    moments = [*edges, *(START_NS + int(x) for x in rng.integers(0, 60 * minute, 500))]
    documents = [_at(n, moment, failed=n % 3 == 0) for n, moment in enumerate(moments)]
    ragged = Window(WINDOW.start + _dt.timedelta(seconds=30.5), WINDOW.end - _dt.timedelta(microseconds=1))
    with SQLiteStore(tmp_path / "s.db", interval_seconds=interval_seconds) as store:
        assert store.load_documents(documents) == len(documents)
        for window in (WINDOW, ragged):
            low = START_NS + int((window.start - WINDOW.start).total_seconds() * 10**6) * 1000
            high = START_NS + int((window.end - WINDOW.start).total_seconds() * 10**6) * 1000
            inside = [n for n, moment in enumerate(moments) if low <= moment < high]
            stats = store.model_stats([store.question("m", "1", window)])[0]
            assert stats.operations.calls == len(inside) == sum(i.calls for i in stats.operations.intervals)
            failed = [n for n in inside if n % 3 == 0]
            assert stats.quality[semconv.CHECK_NULL] == (2 * len(failed), len(failed))
        assert store.models(WINDOW) == [("m", "1", len(moments) - 2)]


def test_labels_are_joined_by_prediction_id_without_table_statistics(tmp_path: Path) -> None:
    """A freshly loaded store has no ``sqlite_stat1``: the join must still look spans up by prediction id
    (the planner's own choice, a range scan of the window per outcome, took seconds)."""
    documents = [_document(n, n * 1.0) for n in range(300)]
    for n, document in enumerate(documents):
        document["attributes"][semconv.PREDICTION_ID] = f"p{n:03d}"
        document["attributes"][semconv.OUTPUT_LABEL] = "yes" if n % 2 else "no"
    with SQLiteStore(tmp_path / "s.db") as store:
        store.load_documents(documents)
        store.record_outcomes([(f"p{n:03d}", "yes", WINDOW.start) for n in range(0, 300, 7)])
        statistics = store.connection.execute("SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_stat1'")
        assert statistics.fetchone()[0] == 0
        statements: list[str] = []
        store.connection.set_trace_callback(statements.append)
        labelled = store.labelled_predictions(WINDOW, "m", "1")
        store.connection.set_trace_callback(None)
        join = next(s for s in statements if "FROM outcomes" in s)
        plan = " ".join(row[3] for row in store.connection.execute("EXPLAIN QUERY PLAN " + join))
    assert plan.count("spans_prediction") == 2 and "spans_model_traces" not in plan
    assert [(p.prediction_id, p.label) for p in labelled] == [(f"p{n:03d}", "yes" if n % 2 else "no")
                                                              for n in range(0, 300, 7)]


def test_closing_refreshes_planner_statistics_and_never_fails_on_a_busy_file(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path)
    store.load_documents([_document(n, n * 1.0) for n in range(200)])
    store.model_stats([store.question("m", "1", WINDOW)])
    store.close()  # PRAGMA optimize
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_stat1'").fetchone()[0] == 1
    store = SQLiteStore(path)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        store.close()  # best effort: no error
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_refresh_gives_the_query_planner_its_statistics(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "refresh.db") as store:
        store.load_documents(generate(singles=60, batches=6).documents)
        before = store.connection.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone()
        store.refresh()
        analysed = {row[0] for row in store.connection.execute("SELECT tbl FROM sqlite_stat1")}
    assert before == (0,)
    assert {"spans", "calls"} <= analysed
