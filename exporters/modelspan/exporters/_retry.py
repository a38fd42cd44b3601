"""When to try again: jittered exponential backoff against one deadline, ``Retry-After`` honoured.

As in opentelemetry-python's OTLP exporters: only throttling and unavailability are retried
(HTTP 429/502/503/504 and connection errors or timeouts), each wait is the backoff delay with
jitter (so many processes coming back after an outage do not hit Elasticsearch in lockstep),
never past the caller's deadline, and interruptible by shutdown.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator, Mapping
from email.utils import parsedate_to_datetime
from typing import Final

RETRYABLE_STATUS: Final = frozenset({429, 502, 503, 504})


class Backoff:
    """Delays ``initial``, ``2*initial``, ... capped at ``maximum``, each scaled by a random 0.5-1.0."""

    def __init__(self, initial: float = 0.1, maximum: float = 5.0, multiplier: float = 2.0) -> None:
        if initial <= 0 or maximum < initial or multiplier < 1:
            raise ValueError("backoff needs 0 < initial <= maximum and multiplier >= 1")
        self.initial, self.maximum, self.multiplier = initial, maximum, multiplier

    def delays(self) -> Iterator[float]:
        """An endless series of jittered delays (seconds)."""
        delay = self.initial
        while True:
            yield delay * random.uniform(0.5, 1.0)
            delay = min(delay * self.multiplier, self.maximum)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date), if any."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


class Deadline:
    """A point in time, and waits that never pass it and end early on shutdown."""

    def __init__(self, seconds: float, stop: threading.Event) -> None:
        self.at = time.monotonic() + seconds
        self._stop = stop

    def remaining(self) -> float:
        return max(self.at - time.monotonic(), 0.0)

    def expired(self) -> bool:
        return self._stop.is_set() or time.monotonic() >= self.at

    def wait(self, seconds: float) -> bool:
        """Sleep ``seconds`` (cut to the deadline); False when there is no time left or we stop."""
        if seconds >= self.remaining():
            return False
        return not self._stop.wait(seconds)
