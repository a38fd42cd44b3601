"""@modelspan.module: child spans and the ordered, bounded path on the root span."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from opentelemetry.trace import StatusCode

import modelspan
from modelspan import semconv
from tests.sdk.conftest import Spans


@modelspan.module("scaler")
def scale(x: float) -> float:
    return x / 10


def test_path_in_call_order_with_nested_modules(spans: Spans) -> None:
    @modelspan.monitor(model="router", version="2")
    def predict(row: dict[str, Any]) -> str:
        x = scale(row["x"])
        with modelspan.module("tree"), modelspan.module("left" if x < 1 else "right"):
            return "a"

    predict({"x": 3.0})
    attributes = spans.one()
    assert attributes[semconv.MODULE_PATH] == ("scaler", "tree", "left")
    assert attributes[semconv.MODULE_PATH_KEY] == "scaler>tree>left"
    by_name = {s.name: s for s in spans.all()}
    root = by_name["predict router"]
    assert by_name["module scaler"].parent.span_id == root.context.span_id  # type: ignore[union-attr]
    assert by_name["module left"].parent.span_id == by_name["module tree"].context.span_id  # type: ignore[union-attr]
    module_attrs = dict(by_name["module left"].attributes or {})
    assert module_attrs[semconv.SPAN_KIND] == "module"
    assert module_attrs[semconv.MODULE_NAME] == "left"
    assert module_attrs[semconv.MODEL_NAME] == "router" and module_attrs[semconv.MODEL_VERSION] == "2"
    assert module_attrs[semconv.DATA_STREAM_DATASET] == "modelspan"


def test_path_is_bounded(spans: Spans) -> None:
    @modelspan.monitor(model="m")
    def predict(row: dict[str, Any]) -> int:
        for _ in range(semconv.MAX_PATH_LENGTH + 5):
            scale(1.0)
        return 1

    predict({"x": 1.0})
    attributes = spans.one()
    assert len(attributes[semconv.MODULE_PATH]) == semconv.MAX_PATH_LENGTH
    assert attributes[semconv.MODULE_PATH_TRUNCATED] is True


def test_module_error_marks_its_span_and_propagates(spans: Spans) -> None:
    error = ZeroDivisionError("x")

    @modelspan.monitor(model="m")
    def predict(row: dict[str, Any]) -> int:
        with modelspan.module("divider"):
            raise error

    with pytest.raises(ZeroDivisionError) as caught:
        predict({"x": 1.0})
    assert caught.value is error
    divider = next(s for s in spans.all() if s.name == "module divider")
    assert divider.status.status_code is StatusCode.ERROR


def test_threads_keep_separate_paths(spans: Spans) -> None:
    barrier = threading.Barrier(4)

    @modelspan.monitor(model="m")
    def predict(row: dict[str, Any]) -> str:
        name = f"branch{row['i']}"
        with modelspan.module(name):
            barrier.wait(timeout=10)  # all four calls are inside their module at once
            with modelspan.module(name + "_leaf"):
                pass
        return name

    threads = [threading.Thread(target=predict, args=({"i": i},)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    paths = sorted(dict(s.attributes or {})[semconv.MODULE_PATH_KEY] for s in spans.models())
    assert paths == [f"branch{i}>branch{i}_leaf" for i in range(4)]


def test_asyncio_tasks_keep_separate_paths(spans: Spans) -> None:
    @modelspan.monitor(model="m")
    async def predict(row: dict[str, Any]) -> int:
        async with modelspan.module(f"first{row['i']}"):
            await asyncio.sleep(0)
        await second(row["i"])
        return 1

    async def second(i: int) -> None:
        async with modelspan.module(f"second{i}"):
            await asyncio.sleep(0)

    async def main() -> None:
        await asyncio.gather(*(predict({"i": i}) for i in range(5)))

    asyncio.run(main())
    paths = sorted(dict(s.attributes or {})[semconv.MODULE_PATH_KEY] for s in spans.models())
    assert paths == [f"first{i}>second{i}" for i in range(5)]


def test_async_decorated_module(spans: Spans) -> None:
    @modelspan.module("fetch")
    async def fetch() -> int:
        await asyncio.sleep(0)
        return 3

    @modelspan.monitor(model="m")
    async def predict(row: dict[str, Any]) -> int:
        return await fetch()

    assert asyncio.run(predict({"x": 1.0})) == 3
    assert spans.one()[semconv.MODULE_PATH] == ("fetch",)


def test_nested_model_calls_have_their_own_paths(spans: Spans) -> None:
    @modelspan.monitor(model="inner")
    def inner(row: dict[str, Any]) -> int:
        with modelspan.module("inner_step"):
            return 1

    @modelspan.monitor(model="outer")
    def outer(row: dict[str, Any]) -> int:
        with modelspan.module("outer_step"):
            inner(row)
        with modelspan.module("after"):
            return 2

    outer({"x": 1.0})
    paths = {dict(s.attributes or {})[semconv.MODEL_NAME]: dict(s.attributes or {})[semconv.MODULE_PATH_KEY]
             for s in spans.models()}
    assert paths == {"inner": "inner_step", "outer": "outer_step>after"}


def test_module_outside_a_model_call_still_spans(spans: Spans) -> None:
    with modelspan.module("standalone"):
        pass
    (span,) = spans.all()
    assert span.name == "module standalone"
    assert semconv.MODEL_NAME not in dict(span.attributes or {})
