"""Profiles: exact statistics of every monitored call, kept in-process before any sampling or queueing.

Every decorated call (sampled or not, span queued or not) adds itself to the profile of its key
``(model, version, module, interval start)``: calls, errors, rows, spans started, and its latency in
a mergeable log-bucketed histogram (DDSketch-style, docs/profiles.md). Profiles are flushed to the
configured sinks (exporters with an ``export_profiles`` method, e.g. the SQLite exporter) every
interval by a daemon thread, on ``force_flush()``, ``shutdown()`` and at exit. A forked child starts
empty. Spans the OpenTelemetry batch queue drops, and spans an exporter drops, are counted here too
(``count_dropped``, against their model version and sub-module).

Latency histogram: relative accuracy ``ALPHA`` = 1 %; ``GAMMA = (1 + ALPHA) / (1 - ALPHA)``; a latency
``x`` ns (``x >= 1``) goes to bucket ``ceil(log(x) / log(GAMMA))``, and bucket ``i`` stands for
``2 * GAMMA**i / (GAMMA + 1)``, within ``ALPHA`` of every value in it. Histograms merge by adding
bucket counts, so any sum of profiles (processes, intervals) keeps the same bound.

Memory bound: at most ``MAX_KEYS`` keys are held between flushes (further keys are counted in
``stats()["profile_keys_dropped"]``, never silently lost); a histogram holds at most one bucket per
factor ``GAMMA`` of latency, about 1,450 buckets from 1 ns to one hour, so the worst case is
``MAX_KEYS * 1,450`` integers; in practice one key per model version and interval holds a few dozen.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from modelspan import semconv
from modelspan._sketch import LOG_GAMMA as _LOG_GAMMA
from modelspan.instrumentation import _feature_profiles, _row_fold
from modelspan.instrumentation._feature_profiles import CallSummary, FeatureFold

logger = logging.getLogger("modelspan")

INTERVAL_NS: Final = semconv.PROFILE_INTERVAL_SECONDS * 10**9
MAX_KEYS: Final = 4096
"""Profile keys held between two flushes (model versions x modules x intervals)."""

Key = tuple[str, str, str, int]
Sink = Callable[[Sequence["Profile"]], Any]


@dataclass
class Profile:
    """The statistics of one (model, version, module, interval) since the last flush."""

    model: str
    version: str
    module: str
    start_ns: int
    interval_ns: int
    calls: int = 0
    errors: int = 0
    rows: float = 0.0
    spans: int = 0
    """Calls whose span was started (sampled); ``calls - spans`` were sampled out."""
    dropped: int = 0
    """Spans lost before the store: evicted by the OpenTelemetry batch queue (full) or dropped by an exporter."""
    latency_sum: int = 0
    latency_min: int | None = None
    latency_max: int | None = None
    zeros: int = 0
    """Latencies below 1 ns (a clock that did not move)."""
    buckets: dict[int, int] = field(default_factory=dict)
    features: dict[tuple[str, str | None], FeatureFold] = field(default_factory=dict)
    """Per (feature, baseline id): the inputs' and outputs' statistics (``_feature_profiles``)."""
    paths: dict[str, dict[str, int]] = field(default_factory=dict)
    """Calls per module path and output label (model profiles only)."""
    checks: dict[str, list[int]] = field(default_factory=dict)
    """Per data-quality check: [failed values, calls with a failure]."""
    features_dropped: int = 0
    """Feature statistics left off beyond ``_feature_profiles.MAX_FEATURES`` (counted, not held)."""
    row_state: _row_fold.RowState = field(default_factory=_row_fold.RowState, repr=False, compare=False)
    """Rows of floats not folded yet and each plan's folds (``_row_fold``); empty once the profile is taken."""


def _add_summary(profile: Profile, summary: CallSummary,
                 delta: dict[tuple[str, str | None], FeatureFold] | None) -> None:
    """A call's features, path and data-quality counts into its profile (under the lock)."""
    if summary.lean is not None:  # a single row summarised the lean way (``_row_fold``)
        profile.features_dropped += _row_fold.fold_row(profile.features, summary, profile.row_state)
    else:
        _row_fold.drain(profile.row_state)  # the rows held first: every fold adds in call order
        if delta is not None:
            profile.features_dropped += _feature_profiles.merge_into(profile.features, delta)
        else:
            profile.features_dropped += _feature_profiles.fold_into(profile.features, summary)
    _feature_profiles.fold_path(profile.paths, summary)
    if summary.quality is not None:
        for check, count in summary.quality.counts.items():
            held = profile.checks.setdefault(check, [0, 0])
            held[0] += count
            held[1] += 1


class _Profiles:
    """The process's profiles: one lock, a short critical section per call."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.current: dict[Key, Profile] = {}
        self.interval_ns = INTERVAL_NS
        self.sinks: tuple[Sink, ...] = ()
        self.counts = {"calls": 0, "spans_started": 0, "spans_dropped": 0, "calls_without_span": 0,
                       "profiles_flushed": 0, "profile_keys_dropped": 0, "profile_flush_failures": 0}
        self.flusher: threading.Thread | None = None
        self.wake = threading.Event()

    def _profile(self, model: str, version: str, module: str, now_ns: int) -> Profile | None:
        start = now_ns - now_ns % self.interval_ns
        key = (model, version, module, start)
        profile = self.current.get(key)
        if profile is None:
            if len(self.current) >= MAX_KEYS:
                self.counts["profile_keys_dropped"] += 1
                return None
            profile = self.current[key] = Profile(model, version, module, start, self.interval_ns)
        return profile

    def record(self, model: str, version: str, module: str, start_ns: int, end_ns: int,
               error: bool, rows: float, sampled: bool, summary: CallSummary | None = None) -> None:
        latency = end_ns - start_ns
        index = math.ceil(math.log(latency) / _LOG_GAMMA) if latency >= 1 else None
        # A batch is folded outside the lock and merged under it; a single row's few additions go straight in.
        delta: dict[tuple[str, str | None], FeatureFold] | None = None
        left = 0
        if summary is not None and summary.batch is not None:
            delta = {}
            left = _feature_profiles.fold_into(delta, summary)
        with self.lock:
            profile = self._profile(model, version, module, end_ns)
            if module == "":
                self.counts["calls"] += 1
                self.counts["spans_started"] += sampled
                self.counts["calls_without_span"] += not sampled
            if profile is None:
                return
            profile.calls += 1
            profile.errors += error
            profile.rows += rows
            profile.spans += sampled
            if index is None:
                profile.zeros += 1
                latency = 0
            else:
                buckets = profile.buckets
                buckets[index] = buckets.get(index, 0) + 1
            profile.latency_sum += latency
            if summary is not None:
                _add_summary(profile, summary, delta)
                profile.features_dropped += left
            if profile.latency_min is None or latency < profile.latency_min:
                profile.latency_min = latency
            if profile.latency_max is None or latency > profile.latency_max:
                profile.latency_max = latency

    def count_dropped(self, model: str, version: str, now_ns: int, module: str = "") -> None:
        with self.lock:
            self.counts["spans_dropped"] += 1
            if not model:  # not a model's span: counted for the process only
                return
            self.counts["calls_without_span"] += module == ""
            profile = self._profile(model, version, module, now_ns)
            if profile is not None:
                profile.dropped += 1

    def take(self) -> list[Profile]:
        with self.lock:
            taken, self.current = list(self.current.values()), {}
            for profile in taken:
                _row_fold.drain(profile.row_state)
        return taken

    def flush(self) -> bool:
        """Hand every held profile to the sinks; ``True`` when each sink took them."""
        taken = self.take()
        sinks = self.sinks
        if not taken or not sinks:
            return True
        ok = True
        for sink in sinks:
            try:
                sink(taken)
            except Exception:
                ok = False
                with self.lock:
                    self.counts["profile_flush_failures"] += 1
                logger.warning("modelspan: %d profiles could not be written", len(taken), exc_info=True)
        if ok:
            with self.lock:
                self.counts["profiles_flushed"] += len(taken)
        return ok

    def reset_after_fork(self) -> None:
        self.lock = threading.Lock()
        self.current = {}
        self.counts = dict.fromkeys(self.counts, 0)
        self.flusher = None
        self.wake = threading.Event()
        if self.sinks:
            self.start()

    def start(self) -> None:
        if self.flusher is not None and self.flusher.is_alive():
            return
        self.flusher = threading.Thread(target=self._run, name="modelspan-profiles", daemon=True)
        self.flusher.start()

    def _run(self) -> None:
        while True:
            self.wake.wait(self.interval_ns / 1e9)
            self.wake.clear()
            try:
                self.flush()
            except Exception:  # the flusher must outlive any one failure
                logger.warning("modelspan: profile flush failed", exc_info=True)


PROFILES = _Profiles()
record = PROFILES.record
count_dropped = PROFILES.count_dropped


def set_sinks(sinks: Sequence[Sink]) -> None:
    """Flush what the previous sinks are owed, then send profiles to ``sinks`` from now on."""
    PROFILES.flush()
    PROFILES.sinks = tuple(sinks)
    if PROFILES.sinks:
        PROFILES.start()


def flush() -> bool:
    """Write every held profile now (``force_flush()``, ``shutdown()``, exit)."""
    return PROFILES.flush()


def stats() -> dict[str, int]:
    """Calls profiled, spans started and dropped, calls without a span, profiles flushed, keys and flushes lost."""
    with PROFILES.lock:
        return dict(PROFILES.counts)


def profile_call(spec: Any, shaped: Any, start_ns: int, end_ns: int, error: bool,
                 summary: CallSummary | None = None) -> None:
    """Profile a call that has a span (``_monitor.finish``); never raises."""
    try:
        size = getattr(shaped, "size", None)
        rows = float(size) if type(size) is int else 1.0
        PROFILES.record(spec.model, spec.version, "", start_ns, end_ns, error, rows, True, summary)
    except Exception as exc:
        from modelspan.instrumentation._health import record_error

        record_error("monitor.profile", exc)


def rows_of(value: Any) -> float:
    """Rows in a call's input without reading it: a table's or array's length, else one row."""
    if type(value) is dict:
        return 1.0
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and len(shape) >= 2:
        return float(shape[0])
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], (dict, list, tuple)):
        return float(len(value))
    return 1.0


def _at_exit() -> None:
    PROFILES.flush()  # failures are counted and logged by flush() itself


os.register_at_fork(after_in_child=PROFILES.reset_after_fork)
atexit.register(_at_exit)
