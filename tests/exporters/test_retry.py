"""Backoff, Retry-After and deadlines."""

from __future__ import annotations

import itertools
import threading
from email.utils import formatdate

import pytest

from modelspan.exporters import _retry
from modelspan.exporters._retry import Backoff, Deadline, retry_after


def test_delays_grow_are_jittered_and_capped() -> None:
    delays = list(itertools.islice(Backoff(initial=0.1, maximum=1.0).delays(), 8))
    bases = [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0]
    assert all(base * 0.5 <= delay <= base for delay, base in zip(delays, bases, strict=True))
    assert len(set(delays)) > 1


def test_bad_backoff_is_rejected() -> None:
    with pytest.raises(ValueError):
        Backoff(initial=0)


@pytest.mark.parametrize(("header", "low", "high"), [("3", 3, 3), ("0", 0, 0), ("soon", None, None)])
def test_retry_after_seconds(header: str, low: float | None, high: float | None) -> None:
    value = retry_after({"Retry-After": header})
    assert value == low if low is None else low <= (value or 0) <= (high or 0)


class Clock:
    """An injected ``time`` for ``_retry``: wall and monotonic time move only when told to."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock(1_700_000_000.0)
    monkeypatch.setattr(_retry, "time", fake)
    return fake


def test_retry_after_http_date_and_missing(clock: Clock) -> None:
    assert retry_after({"retry-after": formatdate(clock.now + 30, usegmt=True)}) == 30.0
    assert retry_after({"Retry-After": formatdate(clock.now - 30, usegmt=True)}) == 0.0  # past: now
    assert retry_after({"Retry-After": " 2.5 "}) == 2.5 and retry_after({"Retry-After": "-4"}) == 0.0
    assert retry_after({}) is None


def test_deadline_refuses_waits_past_it_and_stop_interrupts(clock: Clock) -> None:
    stop = threading.Event()
    deadline = Deadline(0.25, stop)  # 0.25 and the clock's value add exactly in binary
    assert deadline.remaining() == 0.25 and not deadline.expired()
    assert deadline.wait(1.0) is False  # would pass the deadline
    assert deadline.wait(0.25) is False  # would end exactly at it
    assert deadline.wait(0.01) is True
    clock.now += 0.25
    assert deadline.expired() and deadline.remaining() == 0.0 and deadline.wait(0.0) is False
    stop.set()
    assert Deadline(10, stop).expired() and Deadline(10, stop).wait(5) is False
