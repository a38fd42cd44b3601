"""``analyze --every 5m``: consecutive windows from a checkpoint, late data picked up, graceful stop.

Windows are aligned to multiples of ``every`` since the epoch (``10:00-10:05``, ``10:05-10:10``...),
so every run, restarted or not, analyses the same windows and its findings replace the earlier
ones (deterministic ids). After each window the store's checkpoint (``get/set_checkpoint``)
records the end of the last window analysed; a restarted scheduler resumes from there.

Late data: spans are exported in batches and labels arrive days later, so each tick re-analyses the
windows that ended within ``lateness`` before the checkpoint as well as the new ones; a window is
analysed only once it has ended.

Stopping: ``stop`` (a ``threading.Event``, set by SIGTERM/SIGINT in the CLI) is checked between
windows, so the window being analysed is finished and checkpointed before the loop returns.
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
from collections.abc import Callable
from typing import Any

from modelspan import _time
from modelspan.analyzer._engine import Analysis, analyze
from modelspan.store import Store, Window

logger = logging.getLogger(__name__)
CHECKPOINT = "analyze"
MAX_BACKLOG = 288
"""At most this many windows per tick (a day of 5-minute windows): a long outage catches up in steps."""
Clock = Callable[[], _dt.datetime]


def checkpoint_name(model: str | None) -> str:
    """The checkpoint of a scheduler (one per ``--model``, so two schedulers never share one).

    >>> checkpoint_name(None), checkpoint_name("churn")
    ('analyze', 'analyze:churn')
    """
    return CHECKPOINT if model is None else f"{CHECKPOINT}:{model}"


def floor(moment: _dt.datetime, every: _dt.timedelta) -> _dt.datetime:
    """The last multiple of ``every`` since the epoch at or before ``moment``."""
    return _time.EPOCH + (moment - _time.EPOCH) // every * every


def due(now: _dt.datetime, every: _dt.timedelta, lateness: _dt.timedelta, checkpoint: _dt.datetime | None,
        since: _dt.datetime | None = None) -> list[Window]:
    """The windows to analyse now: re-analysed late ones, then the new ones, all already ended.

    >>> t = Window.parse("2026-11-22T10:00:00Z", "2026-11-22T10:00:00Z").start
    >>> [w.iso()[0][11:16] for w in due(t + _dt.timedelta(minutes=12), _dt.timedelta(minutes=5),
    ...                                 _dt.timedelta(minutes=5), checkpoint=t)]
    ['09:55', '10:00', '10:05']
    """
    last_end = floor(now, every)
    if checkpoint is not None:
        first = floor(checkpoint - lateness, every)
    elif since is not None:
        first = floor(since, every)
    else:
        first = last_end - every
    windows = []
    start = first
    while start + every <= last_end:
        windows.append(Window(start, start + every))
        start += every
    return windows[:MAX_BACKLOG]


def tick(store: Store, now: _dt.datetime, every: _dt.timedelta, lateness: _dt.timedelta, *,
         stop: threading.Event | None = None, on_window: Callable[[Analysis], None] | None = None,
         since: _dt.datetime | None = None, **options: Any) -> list[Analysis]:
    """Analyse every due window in order, checkpointing after each; stops early when ``stop`` is set."""
    name = checkpoint_name(options.get("model"))
    saved = store.get_checkpoint(name)
    checkpoint = Window.parse(saved, saved).start if saved else None
    done = []
    for window in due(now, every, lateness, checkpoint, since):
        analysis = analyze(store, window, **options)
        if checkpoint is None or window.end > checkpoint:
            checkpoint = window.end
            store.set_checkpoint(name, window.iso()[1])
        done.append(analysis)
        if on_window is not None:
            on_window(analysis)
        if stop is not None and stop.is_set():
            break
    return done


def run_every(store: Store, every: _dt.timedelta, lateness: _dt.timedelta, stop: threading.Event, *,
              clock: Clock | None = None, on_window: Callable[[Analysis], None] | None = None,
              since: _dt.datetime | None = None, **options: Any) -> int:
    """Tick at each window boundary until ``stop`` is set; returns how many windows were analysed."""
    clock = clock or (lambda: _dt.datetime.now(_dt.timezone.utc))
    count = 0
    while not stop.is_set():
        try:
            count += len(tick(store, clock(), every, lateness, stop=stop, on_window=on_window, since=since,
                              **options))
        except Exception:  # a store outage must not end the scheduler; the next tick retries
            logger.exception("analysis failed; retrying at the next window")
        now = clock()
        wait = (floor(now, every) + every - now).total_seconds()
        stop.wait(max(wait, 0.0) + 1.0)  # a second past the boundary so the window has ended
    return count
