"""Backoff, Retry-After and deadlines."""

from __future__ import annotations

import itertools
import threading
import time
from email.utils import formatdate

import pytest

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


def test_retry_after_http_date_and_missing() -> None:
    value = retry_after({"retry-after": formatdate(time.time() + 30, usegmt=True)})
    assert value is not None and 25 < value <= 30
    assert retry_after({}) is None


def test_deadline_refuses_waits_past_it_and_stop_interrupts() -> None:
    stop = threading.Event()
    deadline = Deadline(0.2, stop)
    assert deadline.wait(1.0) is False  # would pass the deadline
    assert deadline.wait(0.01) is True
    stop.set()
    assert deadline.expired() and Deadline(10, stop).wait(5) is False
