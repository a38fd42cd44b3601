"""Profiles (docs/profiles.md): exact statistics from every call, whatever spans are sampled or dropped."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider

import modelspan
from modelspan._sketch import ALPHA, bucket_of, bucket_value, quantile
from modelspan.instrumentation import _profiles
from modelspan.store.sqlite import SQLiteStore
from modelspan.store.types import Window


def _window() -> Window:
    now = dt.datetime.now(dt.timezone.utc)
    return Window(now - dt.timedelta(hours=1), now + dt.timedelta(minutes=5))


def _operations(path: Path, model: str) -> tuple[int, int, int]:
    """(calls the store lists, calls the analyzer's question counts, spans stored) for ``model``."""
    with SQLiteStore(path) as store:
        window = _window()
        listed = {name: calls for name, _, calls in store.models(window)}
        stats = store.model_stats([store.question(model, "1", window)])[0]
        spans = store.connection.execute("SELECT count(*) FROM calls WHERE module = ''").fetchone()[0]
        return listed.get(model, 0), stats.operations.calls, spans


def _run(path: Path, calls: int, sample_rate: float = 1.0, fail_every: int = 0) -> None:
    modelspan.configure(tracer_provider=TracerProvider(), exporter="sqlite", store=str(path), sample_rate=sample_rate)

    @modelspan.monitor(model="tight", version="1")
    def predict(row: dict[str, float]) -> float:
        if fail_every and row["x"] % fail_every == 0:
            raise ValueError("planted")
        return row["x"] * 2.0

    try:
        for i in range(calls):
            with contextlib.suppress(ValueError):
                predict({"x": float(i)})
    finally:
        modelspan.shutdown()


def test_a_tight_loop_is_counted_exactly_however_many_spans_the_queue_drops(tmp_path: Path) -> None:
    path = tmp_path / "modelspan.db"
    before = _profiles.stats()
    _run(path, 20_000, fail_every=100)
    listed, counted, spans = _operations(path, "tight")
    assert (listed, counted) == (20_000, 20_000)
    after = _profiles.stats()
    dropped = after["spans_dropped"] - before["spans_dropped"]
    assert spans + dropped == 20_000  # every span is stored or counted as dropped
    with SQLiteStore(path) as store:
        operations = store.model_stats([store.question("tight", "1", _window())])[0].operations
        assert operations.errors == 200
        assert sum(interval.calls for interval in operations.intervals) == 20_000
        stored_dropped = store.connection.execute("SELECT total(dropped) FROM profiles").fetchone()[0]
    assert stored_dropped == dropped


def test_at_sample_rate_one_percent_counts_stay_exact_and_spans_are_few(tmp_path: Path) -> None:
    path = tmp_path / "modelspan.db"
    _run(path, 20_000, sample_rate=0.01, fail_every=50)
    listed, counted, spans = _operations(path, "tight")
    assert (listed, counted) == (20_000, 20_000)
    assert 0 < spans < 1_000  # about 200 sampled spans
    with SQLiteStore(path) as store:
        operations = store.model_stats([store.question("tight", "1", _window())])[0].operations
        assert operations.errors == 400
        latency = operations.latency_ms
        assert latency and all(value is not None and value > 0 for value in latency.values())
        profiled_spans = store.connection.execute("SELECT sum(spans) FROM profiles").fetchone()[0]
    assert profiled_spans == spans


def test_old_data_without_profiles_is_answered_from_spans(tmp_path: Path) -> None:
    path = tmp_path / "modelspan.db"
    _run(path, 300)
    with SQLiteStore(path) as store:
        store.connection.execute("DELETE FROM profiles")
    listed, counted, spans = _operations(path, "tight")
    assert listed == counted == spans == 300


_CHILD = textwrap.dedent("""
    import sys
    sys.path[:0] = {paths!r}
    from test_profiles import _run
    from pathlib import Path
    _run(Path(sys.argv[1]), 20_000)
""")


@pytest.mark.slow
def test_four_processes_unpaced_are_counted_exactly(tmp_path: Path) -> None:
    path = tmp_path / "modelspan.db"
    code = _CHILD.format(paths=[str(Path(__file__).parent)])
    children = [subprocess.Popen([sys.executable, "-c", code, str(path)], env=dict(os.environ)) for _ in range(4)]
    assert [child.wait(timeout=600) for child in children] == [0, 0, 0, 0]
    listed, counted, _ = _operations(path, "tight")
    assert (listed, counted) == (80_000, 80_000)


def test_a_forked_child_starts_with_empty_profiles() -> None:
    _profiles.record("forked", "1", "", 0, 1_000, False, 1.0, True)
    read, write = os.pipe()
    with warnings.catch_warnings():  # Python 3.12 warns about forking a process with threads
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child reports how many profiles it inherited
        os.write(write, str(len(_profiles.PROFILES.current)).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 16) == b"0"
    assert any(key[0] == "forked" for key in _profiles.PROFILES.current)
    _profiles.PROFILES.take()


@pytest.mark.parametrize("value", [1.0, 7.0, 1_234.0, 987_654.0, 3.6e12])
def test_a_histogram_bucket_stands_for_its_values_within_one_percent(value: float) -> None:
    assert abs(bucket_value(bucket_of(value)) - value) <= ALPHA * value


def test_quantiles_of_merged_histograms_are_within_one_percent_of_the_exact_ones() -> None:
    values = [float(v) for v in range(1_000, 200_000, 37)]
    first: dict[int, int] = {}
    second: dict[int, int] = {}
    for n, value in enumerate(values):
        target = first if n % 2 else second
        target[bucket_of(value)] = target.get(bucket_of(value), 0) + 1
    merged = {k: first.get(k, 0) + second.get(k, 0) for k in first.keys() | second.keys()}
    ordered = sorted(values)
    for q in (0.0, 0.5, 0.9, 0.99, 1.0):
        exact = ordered[int(q * (len(ordered) - 1))]
        estimate = quantile(merged, 0, q)
        assert estimate is not None and abs(estimate - exact) <= ALPHA * exact
    assert quantile({}, 0, 0.5) is None


def test_the_analyzer_counts_model_and_sub_module_calls_exactly_and_says_traces_are_incomplete(tmp_path: Path) -> None:
    from modelspan import findings
    from modelspan.analyzer import analyze

    path = tmp_path / "modelspan.db"
    modelspan.configure(tracer_provider=TracerProvider(), exporter="sqlite", store=str(path), sample_rate=0.05)

    @modelspan.monitor(model="tight", version="1")
    def predict(row: dict[str, float]) -> float:
        with modelspan.module("features"):
            return row["x"]

    try:
        for i in range(4_000):
            predict({"x": float(i)})
    finally:
        modelspan.shutdown()
    window = _window()
    with SQLiteStore(path) as store:
        result = analyze(store, window, write=False)
        spans = store.connection.execute("SELECT count(*) FROM calls WHERE module = ''").fetchone()[0]
    (stats,) = result.stats
    assert stats.operations.calls == 4_000 and stats.operations.spans == spans < 4_000
    features = stats.modules["features"]
    assert features.calls == 4_000 and features.spans == spans  # one module span per sampled call
    assert all(value is not None for value in features.latency_ms.values())
    qps = {doc.get(findings.MODULE_NAME): doc for doc in result.findings
           if doc[findings.TYPE] == findings.TYPE_THROUGHPUT and " from " not in doc[findings.SUMMARY]}
    model, module = qps[None], qps["features"]
    assert model[findings.METRIC_VALUE] == pytest.approx(4_000 / window.seconds)
    assert module[findings.METRIC_VALUE] == pytest.approx(4_000 / window.seconds)
    assert f"traces incomplete: {4_000 - spans} of 4000 calls have no span" in model[findings.SUMMARY]


def test_sampled_out_calls_of_every_kind_are_profiled(tmp_path: Path) -> None:
    import asyncio

    path = tmp_path / "modelspan.db"
    modelspan.configure(tracer_provider=TracerProvider(), exporter="sqlite", store=str(path), sample_rate=0.01)

    @modelspan.monitor(model="kinds", version="1")
    def stream(rows: list[dict[str, float]]):  # type: ignore[no-untyped-def]
        yield from (row["x"] for row in rows)

    @modelspan.monitor(model="kinds", version="1")
    async def score(row: dict[str, float]) -> float:
        return row["x"]

    @modelspan.monitor(model="kinds", version="1")
    async def astream(rows: list[dict[str, float]]):  # type: ignore[no-untyped-def]
        for row in rows:
            yield row["x"]

    async def run() -> None:
        for _ in range(100):
            await score({"x": 1.0})
            assert [x async for x in astream([{"x": 1.0}])] == [1.0]

    try:
        for _ in range(100):
            assert list(stream([{"x": 1.0}, {"x": 2.0}])) == [1.0, 2.0]
        asyncio.run(run())
    finally:
        modelspan.shutdown()
    with SQLiteStore(path) as store:
        calls, rows = store.connection.execute(
            "SELECT sum(calls), sum(rows) FROM profiles WHERE model_name = 'kinds'").fetchone()
    assert calls == 300
    assert rows >= 400  # the generator's two-row inputs count two rows each when sampled out


def test_profiles_are_flushed_on_force_flush_and_a_failing_sink_is_counted(tmp_path: Path) -> None:
    received: list[int] = []
    _profiles.set_sinks([lambda profiles: received.append(sum(p.calls for p in profiles))])
    try:
        _profiles.record("flush", "1", "", 0, 5_000, False, 1.0, False)
        assert _profiles.flush() and received == [1]

        def broken(profiles: object) -> None:
            raise OSError("disk full")

        _profiles.set_sinks([broken])
        failures = _profiles.stats()["profile_flush_failures"]
        _profiles.record("flush", "1", "", 0, 5_000, False, 1.0, False)
        assert not _profiles.flush()
        assert _profiles.stats()["profile_flush_failures"] == failures + 1
    finally:
        _profiles.set_sinks(())


def test_the_profile_answer_matches_the_span_answer_when_every_span_is_kept(tmp_path: Path) -> None:
    import numpy as np

    path = tmp_path / "modelspan.db"
    _run(path, 1_500, fail_every=30)  # fewer calls than the export queue holds: no span is dropped
    window = _window()
    with SQLiteStore(path) as store:
        profiled = store.model_stats([store.question("tight", "1", window)])[0].operations
        durations = np.array([r[0] for r in store.connection.execute(
            "SELECT duration_ns FROM calls WHERE module = ''")], dtype=float)
        store.connection.execute("DELETE FROM profiles")
        from_spans = store.model_stats([store.question("tight", "1", window)])[0].operations
    assert (profiled.calls, profiled.errors, profiled.rows) == (from_spans.calls, from_spans.errors, from_spans.rows)
    assert profiled.spans == 1_500 and from_spans.spans is None
    assert profiled.mean_latency_ms == pytest.approx(from_spans.mean_latency_ms)
    for percent, value in profiled.latency_ms.items():
        exact = float(np.percentile(durations, percent, method="lower")) / 1e6
        assert value is not None and abs(value - exact) <= 0.01 * exact + 1e-9


def test_threads_calling_at_once_are_counted_exactly(tmp_path: Path) -> None:
    import threading

    path = tmp_path / "modelspan.db"
    modelspan.configure(tracer_provider=TracerProvider(), exporter="sqlite", store=str(path), sample_rate=0.1)

    @modelspan.monitor(model="threads", version="1")
    def predict(row: dict[str, float]) -> float:
        return row["x"]

    def work() -> None:
        for i in range(2_500):
            predict({"x": float(i)})

    threads = [threading.Thread(target=work) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        modelspan.shutdown()
    with SQLiteStore(path) as store:
        assert store.model_stats([store.question("threads", "1", _window())])[0].operations.calls == 10_000


def test_keys_beyond_the_memory_bound_are_counted_not_held(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_profiles, "MAX_KEYS", 3)
    _profiles.PROFILES.take()
    before = _profiles.stats()["profile_keys_dropped"]
    for n in range(5):
        _profiles.record(f"model{n}", "1", "", 0, 1_000, False, 1.0, True)
    assert len(_profiles.PROFILES.current) == 3
    assert _profiles.stats()["profile_keys_dropped"] == before + 2
    _profiles.PROFILES.take()
