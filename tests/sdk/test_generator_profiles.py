"""Sampled-out generator calls (sync and async) are profiled like plain functions (docs/profiles.md):
the call with its rows and errors, and its sub-modules while its body runs, with no span at all; the
consumer's own work between items belongs to no call."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider

import modelspan
from modelspan.store.sqlite import SQLiteStore

RATE = 1e-9
"""A span sample rate at which no call of these tests is sampled (each would be, one time in 10**9)."""
ROWS = [{"x": 1.0}, {"x": 2.0}, {"x": 3.0}]


def _profiles(path: Path, model: str) -> dict[str, tuple[int, int, float, int]]:
    """module -> (calls, errors, rows, spans started) from the profile rows of ``model``."""
    with SQLiteStore(path) as store:
        rows = store.connection.execute(
            "SELECT module, sum(calls), sum(errors), sum(rows), sum(spans) FROM profiles WHERE model_name = ? "
            "GROUP BY module", (model,)).fetchall()
        spans = store.connection.execute("SELECT count(*) FROM spans WHERE model_name = ?", (model,)).fetchone()[0]
    assert spans == 0, "a sampled-out call made a span"
    return {str(module): (int(calls), int(errors), float(rows_), int(started))
            for module, calls, errors, rows_, started in rows}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "modelspan.db"
    modelspan.configure(tracer_provider=TracerProvider(), exporter="sqlite", store=str(path), sample_rate=RATE)
    try:
        yield path
    finally:
        modelspan.shutdown()


def test_a_sampled_out_generator_is_profiled_with_its_sub_modules(store: Path) -> None:
    @modelspan.monitor(model="stream", version="1")
    def stream(rows: list[dict[str, float]]) -> Iterator[float]:
        for row in rows:
            with modelspan.module("score"):
                value = row["x"] * 2
            yield value

    @modelspan.monitor(model="stream", version="1")
    def broken(rows: list[dict[str, float]]) -> Iterator[float]:
        with modelspan.module("score"):
            yield 1.0
        raise ValueError("planted")

    for _ in range(5):
        out = []
        for value in stream(ROWS):
            with modelspan.module("consumer"):  # the consumer's work: not the model's
                out.append(value)
        assert out == [2.0, 4.0, 6.0]
    early = stream(ROWS)
    assert next(early) == 2.0
    early.close()  # the consumer stopped early: a normal end
    with pytest.raises(ValueError, match="planted"):
        list(broken(ROWS))
    thrown = stream(ROWS)
    next(thrown)
    with pytest.raises(KeyError):
        thrown.throw(KeyError("from the consumer"))  # passed into the body, which does not catch it
    modelspan.force_flush()

    profiles = _profiles(store, "stream")
    assert set(profiles) == {"", "score"}
    assert profiles[""] == (8, 2, 24.0, 0)  # 5 + early + broken + thrown; two errors; three rows each
    assert profiles["score"][:2] == (5 * 3 + 1 + 1 + 1, 0)


def test_a_sampled_out_async_generator_is_profiled_with_its_sub_modules(store: Path) -> None:
    @modelspan.monitor(model="astream", version="1")
    async def stream(rows: list[dict[str, float]]) -> AsyncIterator[float]:
        for row in rows:
            with modelspan.module("score"):
                await asyncio.sleep(0)
                value = row["x"] * 2
            yield value

    @modelspan.monitor(model="astream", version="1")
    async def broken(rows: list[dict[str, float]]) -> AsyncIterator[float]:
        with modelspan.module("score"):
            yield 1.0
        raise ValueError("planted")

    async def consume() -> None:
        for _ in range(5):
            out = []
            async for value in stream(ROWS):
                with modelspan.module("consumer"):
                    out.append(value)
            assert out == [2.0, 4.0, 6.0]
        early = stream(ROWS)
        assert await early.__anext__() == 2.0
        await early.aclose()
        with contextlib.suppress(ValueError):
            [value async for value in broken(ROWS)]
        # two calls interleaved in one task, and two tasks at once: each body sees only its own call
        first, second = stream(ROWS), stream(ROWS)
        assert [await first.__anext__(), await second.__anext__()] == [2.0, 2.0]
        await first.aclose()
        await second.aclose()
        assert await asyncio.gather(drain(), drain()) == [[2.0, 4.0, 6.0]] * 2

    async def drain() -> list[float]:
        return [value async for value in stream(ROWS)]

    asyncio.run(consume())
    modelspan.force_flush()

    profiles = _profiles(store, "astream")
    assert set(profiles) == {"", "score"}
    assert profiles[""] == (5 + 1 + 1 + 2 + 2, 1, 11 * 3.0, 0)
    assert profiles["score"][:2] == (5 * 3 + 1 + 1 + 2 + 2 * 3, 0)
