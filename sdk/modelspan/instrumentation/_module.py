"""``modelspan.module``: sub-module spans and the ordered path of a call through its sub-modules.

The path lives in a ``contextvars.ContextVar`` holding the current model call, so threads and
asyncio tasks running separate calls keep separate paths, and a nested call of another decorated
model gets its own. (A thread started inside a call sees the call only if it is started with
``contextvars.copy_context().run``, as ``asyncio.to_thread`` does.)
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from contextvars import ContextVar
from types import TracebackType
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace

from modelspan import semconv
from modelspan.instrumentation import _config, _exceptions, _profiles
from modelspan.instrumentation._health import record_error
from modelspan.instrumentation._redaction import Secrets

F = TypeVar("F", bound=Callable[..., Any])


class CallRecord:
    """What one decorated model call collects while it runs (its path, its error count)."""

    __slots__ = ("errors", "model", "path", "prediction_id", "sampled", "secrets", "truncated", "version")

    def __init__(self, model: str, version: str, prediction_id: str, sampled: bool = True) -> None:
        self.model = model
        self.version = version
        self.prediction_id = prediction_id
        self.sampled = sampled
        """False for a call sampled out: its sub-modules are profiled and make no span."""
        self.path: list[str] = []
        self.truncated = False
        self.errors = 0
        self.secrets: Secrets | None = None  # the call's redacted values, to scrub exceptions

    def enter(self, name: str) -> None:
        if len(self.path) < semconv.MAX_PATH_LENGTH:
            self.path.append(name)
        else:
            self.truncated = True


current_call: ContextVar[CallRecord | None] = ContextVar("modelspan_call", default=None)
# Open module scopes of this context: (owner id, span, context token) or None when not recording.
_scopes: ContextVar[tuple[Any, ...]] = ContextVar("modelspan_module_scopes", default=())


class module:
    """A sub-module of a composite model: a child span, and a step on the call's path.

    Works as a context manager (sync or async) and as a decorator of sync or async functions.

    >>> import modelspan
    >>> @modelspan.module("scaler")
    ... def scale(x):
    ...     return x / 10
    >>> with modelspan.module("ranker"):
    ...     scale(3.0)
    0.3
    """

    def __init__(self, name: str) -> None:
        self.name = str(name)[: semconv.MAX_STRING_LENGTH]
        self._span_name = "module " + self.name

    def __enter__(self) -> module:
        scope = self._open() if _config.STATE.enabled else None
        _scopes.set((*_scopes.get(), scope))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        scopes = _scopes.get()
        if not scopes:
            return
        _scopes.set(scopes[:-1])
        if scopes[-1] is not None:
            self._close(scopes[-1], exc)

    async def __aenter__(self) -> module:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def _open(self) -> tuple[Any, ...] | None:
        try:
            call = current_call.get()
            if call is not None and not call.sampled:  # profiled only (docs/profiles.md)
                call.enter(self.name)  # the path is profiled too
                return (None, None, call, time.time_ns())
            attributes: dict[str, Any] = {
                semconv.SPAN_KIND: semconv.SPAN_KIND_MODULE,
                semconv.MODULE_NAME: self.name,
                semconv.DATA_STREAM_DATASET: semconv.MODELSPAN_DATASET,
            }
            if _config.STATE.namespace:
                attributes[semconv.DATA_STREAM_NAMESPACE] = _config.STATE.namespace
            if call is not None:
                call.enter(self.name)
                attributes[semconv.MODEL_NAME] = call.model
                attributes[semconv.MODEL_VERSION] = call.version
            start_ns = time.time_ns()
            span = _config.STATE.tracer.start_span(self._span_name, attributes=attributes, start_time=start_ns)
            token = otel_context.attach(trace.set_span_in_context(span))
            return (span, token, call, start_ns)
        except Exception as exc:
            _count_error("module.enter", exc)
            return None

    def _close(self, scope: tuple[Any, ...], exc: BaseException | None) -> None:
        span, token, call, start_ns = scope
        end_ns = time.time_ns()
        try:
            if span is not None:
                otel_context.detach(token)
                if exc is not None and span.is_recording():
                    current = current_call.get()
                    _exceptions.record(span, exc, current.secrets if current is not None else None,
                                       _config.STATE.exception_messages)
                span.end(end_time=end_ns)
            if call is not None:
                _profiles.record(call.model, call.version, self.name, start_ns, end_ns, exc is not None, 0.0,
                                 span is not None)
        except Exception as error:
            _count_error("module.exit", error)

    def __call__(self, func: F) -> F:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                if not _config.STATE.enabled:
                    return await func(*args, **kwargs)
                async with module(self.name):
                    return await func(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not _config.STATE.enabled:
                return func(*args, **kwargs)
            with module(self.name):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def _count_error(where: str, exc: BaseException) -> None:
    record_error(where, exc)
    call = current_call.get()
    if call is not None:
        call.errors += 1


