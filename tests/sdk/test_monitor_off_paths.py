"""Async functions, generators and async generators when monitoring is off or the call is sampled out.

The user's function must behave exactly as undecorated: same values, same exceptions, values sent
in reach it, and its cleanup runs when the consumer stops (not later, at garbage collection).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

import modelspan
from modelspan.instrumentation import _config
from tests.sdk.conftest import Spans

MODES = ["disabled", "sampled out"]


def _decorator(mode: str) -> Callable[[Any], Any]:
    if mode == "disabled":
        _config.STATE.enabled = False
        return modelspan.monitor(model="m")
    return modelspan.monitor(model="m", sample_rate=1e-12)  # random() < 1e-12: practically never kept


def _after(spans: Spans, mode: str, last: Any) -> None:
    """No span; the last prediction (read in the caller's thread or task) says why."""
    assert spans.models() == []
    if mode == "disabled":
        assert last is None
    else:
        assert last is not None and last.sampled is False and last.model == "m"


class Failed(Exception):
    pass


@pytest.mark.parametrize("mode", MODES)
def test_async_function(spans: Spans, mode: str) -> None:
    @_decorator(mode)
    async def predict(x: float) -> float:
        await asyncio.sleep(0)
        if x < 0:
            raise Failed(x)
        return 2 * x

    async def call() -> tuple[float, Any]:  # last_prediction() is per task: read it in the caller's
        return await predict(3.0), modelspan.last_prediction()

    result, last = asyncio.run(call())
    assert result == 6.0
    _after(spans, mode, last)
    error = Failed(-1.0)
    with pytest.raises(Failed) as caught:
        asyncio.run(predict(-1.0))
    assert caught.value.args == error.args


@pytest.mark.parametrize("mode", MODES)
def test_generator_values_sends_throws_and_early_close(spans: Spans, mode: str) -> None:
    events: list[Any] = []

    @_decorator(mode)
    def stream(n: int) -> Iterator[int]:
        try:
            for i in range(n):
                sent = yield i
                events.append(("sent", sent))
        except Failed:
            events.append("thrown")
            yield -1
        finally:
            events.append("closed")

    assert list(stream(3)) == [0, 1, 2]
    assert events == [("sent", None)] * 3 + ["closed"]
    _after(spans, mode, modelspan.last_prediction())
    events.clear()
    generator = stream(5)
    assert next(generator) == 0 and generator.send("a") == 1 and generator.throw(Failed()) == -1
    generator.close()
    assert events == [("sent", "a"), "thrown", "closed"]


@pytest.mark.parametrize("mode", MODES)
def test_async_generator_values_errors_and_cleanup_on_early_close(spans: Spans, mode: str) -> None:
    events: list[str] = []

    @_decorator(mode)
    async def stream(n: int) -> AsyncIterator[int]:
        try:
            for i in range(n):
                if i == 3:
                    raise Failed(i)
                yield i
        finally:
            events.append("closed")

    async def consume(n: int) -> list[int]:
        return [item async for item in stream(n)]

    async def consume_and_last(n: int) -> tuple[list[int], Any]:
        return await consume(n), modelspan.last_prediction()

    async def first_then_close() -> tuple[int, list[str]]:
        generator = stream(3)
        first = await generator.__anext__()
        await generator.aclose()
        return first, list(events)  # the user's finally ran by the time aclose() returned

    items, last = asyncio.run(consume_and_last(3))
    assert items == [0, 1, 2] and events == ["closed"]
    _after(spans, mode, last)
    events.clear()
    with pytest.raises(Failed):
        asyncio.run(consume(5))
    assert events == ["closed"]
    events.clear()
    assert asyncio.run(first_then_close()) == (0, ["closed"])
