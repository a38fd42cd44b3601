"""``modelspan.shadow``: run a challenger on the champion's requests, off the caller's latency.

The decorated champion returns to its caller first; then, for a ``sample`` share of calls, the
request and the champion's answer go to a bounded queue served by one daemon thread, which calls
the challenger in an experiment scope: its model span says ``ml.span.kind = "shadow"`` (so production
QPS, latency and drift, which read ``model`` spans, never count it), ``ml.experiment.shadow = true``,
the champion's prediction id and a span link to the champion's span, and -- once the challenger
returns -- the agreement and mean absolute difference of the two answers.

Nothing here ever raises into the caller: a full queue drops the job (counted in ``dropped``), a
challenger that raises is recorded on its span and counted in ``failed``. The queue holds references
to the call's arguments, so the caller must not mutate them after the call (copy them if it does).
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import queue
import random
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from opentelemetry import trace

from modelspan import semconv
from modelspan.instrumentation import _config
from modelspan.instrumentation._experiment import Scope, current
from modelspan.instrumentation._health import record_error

F = TypeVar("F", bound=Callable[..., Any])
Compare = Callable[[Any, Any], tuple[float | None, float | None]]
_LOG = logging.getLogger(__name__)
DEFAULT_QUEUE_SIZE = 1000


def compare_outputs(champion: Any, challenger: Any) -> tuple[float | None, float | None]:
    """``(agreement, difference)``: share of equal rows, and mean absolute difference if numeric.

    >>> compare_outputs(["a", "b"], ["a", "c"])
    (0.5, None)
    >>> compare_outputs(0.25, 0.75)
    (0.0, 0.5)
    """
    a, b = np.asarray(champion), np.asarray(challenger)
    if a.shape != b.shape or a.size == 0:
        return None, None
    agreement = float(np.mean(a == b))
    if a.dtype.kind in "biuf" and b.dtype.kind in "biuf":
        return agreement, float(np.mean(np.abs(a.astype(np.float64) - b.astype(np.float64))))
    return agreement, None


class Shadow:
    """The worker behind one ``modelspan.shadow`` decorator; its counters are for operators.

    ``submitted`` jobs queued, ``completed`` challenger calls that returned, ``failed`` that raised,
    ``dropped`` jobs refused because the queue was full.
    """

    def __init__(self, challenger: Callable[..., Any], sample: float, experiment: str, arm: str,
                 compare: Compare, queue_size: int) -> None:
        self.challenger, self.sample, self.experiment, self.arm = challenger, sample, experiment, arm
        self.compare = compare
        self.submitted = self.completed = self.failed = self.dropped = 0
        self._queue: queue.Queue[tuple[Any, ...]] = queue.Queue(maxsize=queue_size)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        if hasattr(os, "register_at_fork"):  # a forked child (gunicorn preload) starts its own worker
            os.register_at_fork(after_in_child=self._reset_after_fork)

    def _reset_after_fork(self) -> None:
        self._thread = None
        self._queue = queue.Queue(maxsize=self._queue.maxsize)
        self._lock = threading.Lock()

    def submit(self, job: tuple[Any, ...]) -> None:
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1:
                _LOG.warning("modelspan.shadow(%s): queue full, dropping shadow calls (counted)", self.experiment)
            return
        self.submitted += 1
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="modelspan-shadow", daemon=True)
                self._thread.start()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued shadow call has run; False if ``timeout`` seconds passed first."""
        done = threading.Event()

        def wait() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=wait, daemon=True).start()
        return done.wait(timeout)

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            try:
                self._run(*job)
            except Exception as exc:  # the worker must outlive any job
                record_error("shadow.worker", exc)
            finally:
                self._queue.task_done()

    def _run(self, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any, champion_id: str | None,
             champion_context: Any, base: dict[str, Any]) -> None:
        attributes = {**base, semconv.SPAN_KIND: semconv.SPAN_KIND_SHADOW, semconv.EXPERIMENT_ID: self.experiment,
                      semconv.EXPERIMENT_ARM: self.arm, semconv.EXPERIMENT_SHADOW: True}
        if champion_id is not None:
            attributes[semconv.EXPERIMENT_CHAMPION_PREDICTION_ID] = champion_id
        links = [trace.Link(champion_context)] if champion_context is not None else []
        scope = Scope(attributes, links, on_finish=functools.partial(self._compared, result))
        token = current.set(scope)
        try:
            self.challenger(*args, **kwargs)
            self.completed += 1
        except Exception:
            self.failed += 1  # recorded on the challenger's span by its own @monitor
        finally:
            current.reset(token)

    def _compared(self, champion: Any, span: Any, challenger: Any, error: BaseException | None) -> int:
        if error is not None or not span.is_recording():
            return 0
        agreement, difference = self.compare(champion, challenger)
        found = {semconv.EXPERIMENT_AGREEMENT: agreement, semconv.EXPERIMENT_DIFFERENCE: difference}
        kept = {k: v for k, v in found.items() if v is not None}
        span.set_attributes(kept)
        return len(kept)


def shadow(challenger: Callable[..., Any], sample: float = 1.0, *, experiment: str | None = None,
           arm: str = "challenger", compare: Compare | None = None,
           queue_size: int = DEFAULT_QUEUE_SIZE) -> Callable[[F], F]:
    """Decorate a monitored champion so a ``sample`` share of its calls also run ``challenger``.

    ``challenger`` should itself be ``@modelspan.monitor``-ed (its spans carry the comparison);
    ``experiment`` defaults to the challenger's name. The decorated function has a ``shadow``
    attribute (:class:`Shadow`: ``flush(timeout)`` and the counters).

    >>> import modelspan
    >>> @modelspan.monitor(model="ranker", version="2")
    ... def predict_v2(row):
    ...     return 0.4
    >>> @modelspan.shadow(predict_v2, sample=0.1, experiment="ranker-v2")
    ... @modelspan.monitor(model="ranker", version="1")
    ... def predict(row):
    ...     return 0.5
    >>> predict({"x": 1.0})
    0.5
    """
    if not 0.0 <= sample <= 1.0:
        raise ValueError(f"sample must be in [0, 1], got {sample}")
    if queue_size < 1:
        raise ValueError(f"queue_size must be positive, got {queue_size}")
    name = experiment or getattr(challenger, "__qualname__", "shadow")
    worker = Shadow(challenger, sample, str(name), str(arm), compare or compare_outputs, queue_size)

    def decorate(champion: F) -> F:
        if inspect.iscoroutinefunction(champion) or inspect.iscoroutinefunction(challenger):
            raise TypeError("modelspan.shadow runs plain functions; async champions and challengers are not "
                            "supported yet")

        @functools.wraps(champion)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not _config.STATE.enabled or not (sample >= 1.0 or random.random() < sample):
                return champion(*args, **kwargs)
            seen: dict[str, Any] = {}
            outer = current.get()
            scope = Scope(dict(outer.attributes) if outer else {}, outer.links if outer else (),
                          on_start=lambda span, pid: seen.setdefault("call", (span.get_span_context(), pid)))
            token = current.set(scope)
            try:
                result = champion(*args, **kwargs)
            finally:
                current.reset(token)
            _enqueue(worker, args, kwargs, result, seen, outer)
            return result

        wrapper.shadow = worker  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def _enqueue(worker: Shadow, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any,
             seen: dict[str, Any], outer: Scope | None) -> None:
    try:
        context, prediction_id = seen.get("call", (None, None))
        base: dict[str, Any] = {}
        unit = outer.attributes.get(semconv.EXPERIMENT_UNIT) if outer else None
        if unit is not None:
            base[semconv.EXPERIMENT_UNIT] = unit
        worker.submit((args, kwargs, result, prediction_id, context, base))
    except Exception as exc:
        record_error("shadow.submit", exc)


__all__ = ["Shadow", "compare_outputs", "shadow"]
