"""The demo's traffic generator: rate-controlled HTTP requests in phases, with a progress bar.

Requests are scheduled open-loop at a fixed rate (a slow sub-module must not slow the clients
down, or QPS would drop with latency and look like a second problem) and sent by a small pool of
threads over one ``httpx.Client``. Between phases the generator waits for every request in
flight, so each phase's spans fall inside its own time window and a fault switched on for one
phase never touches another's requests.
"""

from __future__ import annotations

import datetime as _dt
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, TextIO

import httpx
import numpy as np

Row = dict[str, Any]
Requests = list[tuple[Row, str]]
"""Request bodies with the ground truth for each (the label that will arrive late)."""


@dataclass
class Phase:
    """One stretch of the timeline: how long, what rows are sent and what breaks meanwhile."""

    name: str
    seconds: float
    description: str
    make: Callable[[np.random.Generator, int], Requests]
    """The phase's ``n`` requests, made up front so every phase's mix is planned, not drifting."""
    enter: Callable[[], None] = lambda: None
    """Switches this phase's faults on (and the previous phase's off)."""
    start: _dt.datetime | None = None
    end: _dt.datetime | None = None


@dataclass
class Sent:
    """One request: its phase, HTTP status, prediction id (if the app answered) and ground truth,
    with when it was sent (epoch seconds) and how long the client waited for the answer."""

    phase: str
    status: int
    prediction_id: str | None
    truth: str
    sent_at: float = 0.0
    seconds: float = 0.0


@dataclass
class Traffic:
    """Everything the generator sent, per phase."""

    phases: list[Phase]
    sent: list[Sent] = field(default_factory=list)

    def count(self, phase: str, ok: bool | None = None) -> int:
        """Requests of ``phase`` (only successful ones with ``ok=True``, failed with ``False``)."""
        return sum(1 for s in self.sent if s.phase == phase and (ok is None or (s.status < 400) == ok))


class Progress:
    """One redrawn line on a stream: ``[#####-----] 52%  phase  requests  rps  errors``."""

    def __init__(self, total_seconds: float, stream: TextIO | None = None, width: int = 28) -> None:
        self.total = max(total_seconds, 1e-9)
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self._last = 0.0
        # a log file or a CI console gets one line per phase instead of a redrawn line
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())

    def draw(self, elapsed: float, phase: str, requests: int, errors: int, force: bool = False,
             share: float | None = None) -> None:
        """Redraw (at most 10 times a second unless ``force``); ``share`` overrides elapsed/total."""
        now = time.monotonic()
        if not force and (not self.live or now - self._last < 0.1):
            return
        self._last = now
        share = min(elapsed / self.total if share is None else share, 1.0)
        filled = round(share * self.width)
        rate = requests / elapsed if elapsed > 0 else 0.0
        line = (f"[{'#' * filled}{'-' * (self.width - filled)}] {share:4.0%}  {phase:<13} "
                f"{requests:6d} requests {rate:6.1f}/s {errors:5d} errors")
        self.stream.write("\r" + line if self.live else line + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.live:
            self.stream.write("\n")
            self.stream.flush()


def drive(url: str, phases: list[Phase], rate: float, *, seed: int = 11, workers: int = 16,
          progress: Progress | None = None) -> Traffic:
    """Send every phase's requests to ``url`` + ``/predict`` at ``rate`` per second."""
    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate}")
    rng = np.random.default_rng(seed)
    traffic = Traffic(phases)
    lock = threading.Lock()
    began = time.monotonic()
    planned = sum(phase.seconds for phase in phases) or 1.0
    with httpx.Client(base_url=url, timeout=30.0) as client, ThreadPoolExecutor(workers) as pool:
        for number, phase in enumerate(phases, start=1):
            phase.enter()
            phase.start = _dt.datetime.now(_dt.timezone.utc)
            futures = _run_phase(client, pool, phase, rate, rng, traffic, lock, progress, began)
            wait(futures)
            for future in futures:
                future.result()  # a failed request thread is a bug in the demo: surface it
            phase.end = _dt.datetime.now(_dt.timezone.utc)
            if progress is not None:  # a finished phase is its planned share of the timeline
                share = sum(p.seconds for p in phases[:number]) / planned
                _draw(progress, began, phase.name, traffic, force=True, share=share)
    if progress is not None:
        progress.done()
    return traffic


def _run_phase(client: httpx.Client, pool: ThreadPoolExecutor, phase: Phase, rate: float,
               rng: np.random.Generator, traffic: Traffic, lock: threading.Lock,
               progress: Progress | None, began: float) -> list[Future[None]]:
    """Schedule the phase's requests at fixed intervals; returns their futures."""
    futures: list[Future[None]] = []
    requests = phase.make(rng, max(int(phase.seconds * rate), 1))
    start = time.monotonic()
    for index, (row, truth) in enumerate(requests):
        delay = start + index / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        futures.append(pool.submit(_send, client, phase.name, row, truth, traffic, lock))
        if progress is not None:
            _draw(progress, began, phase.name, traffic)
    return futures


def _send(client: httpx.Client, phase: str, row: Row, truth: str, traffic: Traffic, lock: threading.Lock) -> None:
    sent_at, began = time.time(), time.perf_counter()
    try:
        response = client.post("/predict", json=row)
        status = response.status_code
        body = response.json() if status < 400 else {}
    except httpx.HTTPError:
        status, body = 599, {}  # the connection failed: counted as an error, never a crash
    seconds = time.perf_counter() - began
    with lock:
        traffic.sent.append(Sent(phase, status, body.get("prediction_id"), truth, sent_at, seconds))


def _draw(progress: Progress, began: float, phase: str, traffic: Traffic, force: bool = False,
          share: float | None = None) -> None:
    sent = list(traffic.sent)
    errors = sum(1 for s in sent if s.status >= 400)
    progress.draw(time.monotonic() - began, phase, len(sent), errors, force=force, share=share)
