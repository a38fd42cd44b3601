"""The --every / --catch-up scheduler: which windows are due, checkpoints, late data, stopping.

Time is injected (``now`` / ``clock``), so nothing here depends on the wall clock.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

from modelspan.analyzer import _scheduler
from modelspan.cli import main
from modelspan.commands.analyze import _stop_on_signals
from modelspan.store.sqlite import SQLiteStore

T = _dt.datetime(2026, 11, 22, 10, 0, tzinfo=_dt.timezone.utc)
FIVE = _dt.timedelta(minutes=5)


def _starts(windows: list[Any]) -> list[str]:
    return [w.start.strftime("%H:%M") for w in windows]


def test_a_window_is_due_exactly_when_it_has_ended() -> None:
    assert _starts(_scheduler.due(T + FIVE, FIVE, _dt.timedelta(0), checkpoint=T)) == ["10:00"]
    assert _starts(_scheduler.due(T + FIVE - _dt.timedelta(microseconds=1), FIVE, _dt.timedelta(0),
                                  checkpoint=T)) == []
    # no checkpoint and no --since: only the last window that has ended
    assert _starts(_scheduler.due(T + 2 * FIVE + _dt.timedelta(seconds=1), FIVE, FIVE, None)) == ["10:05"]


def test_lateness_re_analyses_the_windows_before_the_checkpoint() -> None:
    now = T + 3 * FIVE
    assert _starts(_scheduler.due(now, FIVE, 2 * FIVE, checkpoint=T + FIVE)) == ["09:55", "10:00", "10:05", "10:10"]
    # a lateness that is not a multiple of the window still starts on a window boundary
    assert _starts(_scheduler.due(now, FIVE, _dt.timedelta(minutes=7), checkpoint=T + FIVE)) == \
        ["09:55", "10:00", "10:05", "10:10"]


def test_since_aligns_to_a_window_and_the_backlog_is_capped() -> None:
    assert _starts(_scheduler.due(T + 2 * FIVE, FIVE, FIVE, None, since=T + _dt.timedelta(minutes=2))) == ["10:00",
                                                                                                          "10:05"]
    backlog = _scheduler.due(T + _dt.timedelta(days=3), FIVE, FIVE, None, since=T)
    assert len(backlog) == _scheduler.MAX_BACKLOG == 288 and backlog[0].start == T
    assert backlog[-1].end == T + _dt.timedelta(days=1)


def test_ticks_checkpoint_resume_and_never_move_the_checkpoint_back(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "store.db") as store:
        first = _scheduler.tick(store, T + 2 * FIVE, FIVE, FIVE, since=T, write=False)
        assert [a.window.start for a in first] == [T, T + FIVE]
        assert store.get_checkpoint("analyze") == "2026-11-22T10:10:00.000Z"
        # nothing new has ended: only the late window before the checkpoint is looked at again
        again = _scheduler.tick(store, T + 2 * FIVE + _dt.timedelta(minutes=4), FIVE, FIVE, write=False)
        assert [a.window.start for a in again] == [T + FIVE]
        assert store.get_checkpoint("analyze") == "2026-11-22T10:10:00.000Z"
        later = _scheduler.tick(store, T + 4 * FIVE, FIVE, FIVE, write=False)
        assert [a.window.start for a in later] == [T + FIVE, T + 2 * FIVE, T + 3 * FIVE]
        assert store.get_checkpoint("analyze") == "2026-11-22T10:20:00.000Z"
        assert store.get_checkpoint("analyze:churn") is None  # one checkpoint per --model


def test_run_every_stops_between_windows_and_counts_them(tmp_path: Path) -> None:
    stop = threading.Event()
    seen: list[_dt.datetime] = []

    def on_window(analysis: Any) -> None:
        seen.append(analysis.window.start)
        if len(seen) == 2:
            stop.set()  # as SIGTERM does: the window in progress finishes, then the loop ends

    with SQLiteStore(tmp_path / "store.db") as store:
        count = _scheduler.run_every(store, FIVE, FIVE, stop, clock=lambda: T + 4 * FIVE, on_window=on_window,
                                     since=T, write=False)
        assert count == 2 and seen == [T, T + FIVE]
        assert store.get_checkpoint("analyze") == "2026-11-22T10:10:00.000Z"  # the second window, not the fourth


def test_catch_up_analyses_every_due_window_since_the_checkpoint(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    database = tmp_path / "store.db"
    SQLiteStore(database).close()  # an existing store (a missing one is refused: exit 2)
    today = _scheduler.floor(_dt.datetime.now(_dt.timezone.utc), _dt.timedelta(days=1))
    since = (today - _dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    arguments = ["analyze", "--once", "--catch-up", "--window", "1d", "--lateness", "1d", "--store", str(database),
                 "--format", "json", "--no-write"]
    assert main([*arguments, "--since", since]) == 0
    windows = [json.loads(line)["window"]["start"] for line in capsys.readouterr().out.splitlines() if line.strip()]
    expected = [(today - _dt.timedelta(days=d)).strftime("%Y-%m-%dT%H:%M:%S.000Z") for d in (3, 2, 1)]
    if windows != expected:  # midnight UTC passed between `today` and the run: one more window is due
        expected = [*expected[1:], today.strftime("%Y-%m-%dT%H:%M:%S.000Z")]
    assert windows == expected
    with SQLiteStore(database) as store:
        assert store.get_checkpoint("analyze") == _scheduler.floor(
            _dt.datetime.fromisoformat(expected[-1].replace("Z", "+00:00")) + _dt.timedelta(days=1),
            _dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    # run again: the day before the checkpoint is re-analysed for late data, nothing else
    assert main(arguments) == 0
    again = [json.loads(line)["window"]["start"] for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert again == expected[-1:]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_ask_the_scheduler_to_stop_and_handlers_are_restored(
        signum: int, capsys: pytest.CaptureFixture[str]) -> None:
    stop = threading.Event()
    before = signal.getsignal(signum)
    with _stop_on_signals(stop):
        os.kill(os.getpid(), signum)  # delivered to the main thread before kill() returns
        assert stop.is_set()
    assert signal.getsignal(signum) is before
    assert f"received signal {signum}: finishing the current window" in capsys.readouterr().err
