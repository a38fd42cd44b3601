"""Capture mode: build a baseline from the calls a validation set makes through the model.

``Baseline.capture(model=...)`` returns a :class:`BaselineCapture`; while its ``with`` block is
open, every monitored call of that model feeds it inputs, outputs, latency and module path.
Calls are captured whether or not spans are exported, and are never sampled out.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from types import TracebackType
from typing import TYPE_CHECKING, Any

from modelspan import semconv
from modelspan.instrumentation import _inputs
from modelspan.instrumentation._profile import safe_name

if TYPE_CHECKING:
    from modelspan.baseline import Baseline
    from modelspan.instrumentation._outputs import Outputs

MAX_CAPTURED_ROWS = 200_000

ACTIVE: list[BaselineCapture] = []  # read without the lock on the hot path (a list is atomic)
_lock = threading.Lock()


class BaselineCapture:
    """Collects calls of one model; ``baseline`` is set when the ``with`` block ends."""

    def __init__(self, model: str, version: str | None, base: Baseline | None, bins: int) -> None:
        self.model = model
        self.version = version
        self.base = base
        self.bins = bins
        self.baseline: Baseline | None = None
        self.calls = 0
        self.dropped_rows = 0
        self._lock = threading.Lock()
        self._columns: dict[str, list[Any]] = defaultdict(list)
        self._rows = 0
        self._outputs: list[Any] = []
        self._latency_ms: list[float] = []
        self._paths: dict[str, Counter[str]] = defaultdict(Counter)

    def __enter__(self) -> BaselineCapture:
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
        outputs: Outputs | None,
        path: list[str],
        latency_ms: float,
    ) -> None:
        """Add one call (called by the monitor decorator)."""
        path_key = semconv.PATH_SEPARATOR.join(path)
        keys = outputs.keys() if outputs is not None else ["*"]
        with self._lock:
            self.calls += 1
            self._latency_ms.append(latency_ms)
            for key in keys:
                self._paths[key][path_key] += 1
            self._add_inputs(shaped)
            if outputs is not None:
                self._add_outputs(outputs)

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

    def _add_outputs(self, outputs: Outputs) -> None:
        if outputs.labels is not None:
            self._outputs.extend(outputs.labels)
        elif outputs.values is not None:
            self._outputs.extend(outputs.values.tolist())

    def build(self) -> Baseline:
        """The baseline captured so far."""
        from modelspan.baseline import Baseline, FeatureProfile

        with self._lock:
            paths = {label: dict(counter) for label, counter in self._paths.items()}
            latency = (
                FeatureProfile.from_values("latency_ms", list(self._latency_ms), "numeric",
                                           self.bins)
                if self._latency_ms
                else None
            )
            if self.base is not None:
                return self.base.with_module_paths(paths, latency)
            columns = {name: col + [None] * (self._rows - len(col))
                       for name, col in self._columns.items()}
            outputs = list(self._outputs) if self._outputs else None
        baseline = Baseline.from_data(
            columns, model=self.model, version=self.version or "*", outputs=outputs,
            bins=self.bins,
        )
        return baseline.with_module_paths(paths, latency)
