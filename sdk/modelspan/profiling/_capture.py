"""Capture mode: record the calls a validation set makes through the model.

``Baseline.capture(model=...)`` returns a :class:`BaselineCapture`; while its ``with`` block is
open, every monitored call of that model feeds it inputs, outputs, latency and module path.
Calls are captured whether or not spans are exported, and are never sampled out. On exit the
capture hands what it recorded (a :class:`Captured`) to the builder it was given: this module
records calls without knowing how a baseline is built (docs/architecture.md, the layers).
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, TypeVar

from modelspan import semconv
from modelspan.profiling import _inputs
from modelspan.profiling._profile import safe_name

MAX_CAPTURED_ROWS = 200_000

T = TypeVar("T")

ACTIVE: list[BaselineCapture[Any]] = []  # read without the lock on the hot path (a list is atomic)
_lock = threading.Lock()


@dataclass(frozen=True)
class Captured:
    """What a capture recorded: input columns (aligned by row, ``None`` where a row lacked the
    feature), the outputs (``None`` when no call had one), latencies and module-path counts per
    output key."""

    columns: dict[str, list[Any]]
    outputs: list[Any] | None
    latency_ms: list[float]
    module_paths: dict[str, dict[str, int]]


class BaselineCapture(Generic[T]):
    """Collects calls of one model; ``baseline`` is set when the ``with`` block ends."""

    def __init__(self, model: str, version: str | None, build: Callable[[Captured], T]) -> None:
        self.model = model
        self.version = version
        self.baseline: T | None = None
        self.calls = 0
        self.dropped_rows = 0
        self._build = build
        self._lock = threading.Lock()
        self._columns: dict[str, list[Any]] = defaultdict(list)
        self._rows = 0
        self._outputs: list[Any] = []
        self._latency_ms: list[float] = []
        self._paths: dict[str, Counter[str]] = defaultdict(Counter)

    def __enter__(self) -> BaselineCapture[T]:
        with _lock:
            ACTIVE.append(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with _lock:
            if self in ACTIVE:
                ACTIVE.remove(self)
        self.baseline = self.build()

    def wants(self, model: str, version: str) -> bool:
        return model == self.model and (self.version is None or version == self.version)

    def record(
        self,
        shaped: _inputs.Row | _inputs.Batch | None,
        keys: Sequence[str],
        outputs: Sequence[Any] | None,
        path: list[str],
        latency_ms: float,
    ) -> None:
        """Add one call (called by the monitor decorator).

        ``keys`` are the per-row output keys the module path is counted under (the label, or
        ``"*"``); ``outputs`` the per-row labels or values, when the call had outputs.
        """
        path_key = semconv.PATH_SEPARATOR.join(path)
        with self._lock:
            self.calls += 1
            self._latency_ms.append(latency_ms)
            for key in keys:
                self._paths[key][path_key] += 1
            self._add_inputs(shaped)
            if outputs is not None:
                self._outputs.extend(outputs)

    def _add_inputs(self, shaped: _inputs.Row | _inputs.Batch | None) -> None:
        if shaped is None:
            return
        size = 1 if isinstance(shaped, _inputs.Row) else shaped.size
        if self._rows + size > MAX_CAPTURED_ROWS:
            self.dropped_rows += size
            return
        if isinstance(shaped, _inputs.Row):
            for key, value in shaped.values.items():
                column = self._columns[safe_name(key)]
                column.extend([None] * (self._rows - len(column)))
                column.append(value)
        else:
            for name, values in shaped.columns.items():
                column = self._columns[name]
                column.extend([None] * (self._rows - len(column)))
                column.extend(list(values))
        self._rows += size

    def captured(self) -> Captured:
        """What was recorded so far (a snapshot)."""
        with self._lock:
            return Captured(
                columns={name: col + [None] * (self._rows - len(col)) for name, col in self._columns.items()},
                outputs=list(self._outputs) if self._outputs else None,
                latency_ms=list(self._latency_ms),
                module_paths={label: dict(counter) for label, counter in self._paths.items()},
            )

    def build(self) -> T:
        """The baseline captured so far."""
        return self._build(self.captured())
