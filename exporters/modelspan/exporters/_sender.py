"""The one background thread that talks to Elasticsearch, so ``export()`` never does.

``export()`` runs on the batch processor's thread; if it waited on the network, a cluster that
accepts connections but does not answer would stall that thread, fill the processor's queue and
make the SDK drop spans we never see. So ``export()`` only encodes and hands the batch over:
to a short in-memory queue (a few batches) when the sender keeps up, else to the on-disk spool.
The sender sends queued batches, and between them replays the spool oldest first. When a send
cannot complete (refused, timed out, unavailable past the deadline) it marks Elasticsearch down:
from then on batches go straight to the spool, and the sender probes with backoff by trying to
replay the oldest spool file, until one succeeds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

from modelspan.exporters._bulk import Item
from modelspan.exporters._counters import Counters
from modelspan.exporters._delivery import Delivery
from modelspan.exporters._retry import Backoff, Deadline
from modelspan.exporters._spool import Spool

_log = logging.getLogger("modelspan.exporters")
_JOIN_S = 5.0


@dataclass
class _Job:
    batch: list[Item] | None  # a live batch, or None for one spool replay step


class Sender:
    """Queue of batches + spool, drained by one daemon thread."""

    def __init__(self, delivery: Delivery, spool: Spool, counters: Counters, *, timeout: float,
                 max_queued: int, probe_backoff: Backoff) -> None:
        if max_queued < 1:
            raise ValueError("modelspan: max_queued_batches must be at least 1")
        self.delivery, self.spool, self.counters = delivery, spool, counters
        self.timeout = timeout
        self.max_queued = max_queued
        self._probe_backoff = probe_backoff
        self._delays = probe_backoff.delays()
        self._queue: deque[list[Item]] = deque()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._stopping = False
        self._busy = False
        self._replay_next = False
        self.down = False
        self._spool_pending = not spool.empty()
        self._next_probe = 0.0
        self._thread: threading.Thread | None = None
        self._inflight: list[Item] | None = None  # the live batch being sent
        self._dropped_seen = 0  # documents dropped as of the last flush
        self._probes = 0  # replay steps finished (a flush while down waits for one)

    def submit(self, items: list[Item]) -> bool:
        """Hand ``items`` over without waiting; False when they had to be dropped (spool full)."""
        with self._cond:
            if not self.down and not self._stopping and len(self._queue) < self.max_queued:
                self._queue.append(items)
                self._ensure_thread()
                self._cond.notify_all()
                return True
        return self.spill(items)  # down, or the sender is behind: disk, not memory

    def spill(self, items: list[Item]) -> bool:
        if not items:
            return True
        if self.spool.append(items):
            self.counters.add("spooled", len(items))
            with self._cond:
                self._spool_pending = True
                self._ensure_thread()
                self._cond.notify_all()
            return True
        self.counters.drop(items)
        if self.spool.error:
            self.counters.warn("spool-error", "modelspan: %s; dropping %d document(s) (counted in stats()['dropped'])",
                               self.spool.error, len(items))
        else:
            self.counters.warn("spool-full", "modelspan: spool %s is full (%d bytes); dropping %d document(s)",
                               self.spool.directory, self.spool.max_bytes, len(items))
        return False

    def flush(self, timeout: float) -> bool:
        """Send what is queued and replay the spool (probing now if down).

        True when nothing waits and no document was dropped since the previous flush (spool or
        dead-letter file full or unwritable): False says some spans did not reach Elasticsearch.
        """
        end = time.monotonic() + timeout
        settled = self._wait(end)
        dropped = self.counters.stats()["dropped"]
        lost, self._dropped_seen = dropped != self._dropped_seen, dropped
        return settled and not lost

    def _wait(self, end: float) -> bool:
        """Wait until nothing is queued or spooled; while down, until one probe (a replay try) failed."""
        with self._cond:
            if self._queue or self._spool_pending:
                self._ensure_thread()
            probes = self._probes
            while self._queue or self._busy or self._spool_pending:
                if self.down and self._probes > probes and not self._busy:
                    break  # probed since the flush began, and still down: the spans wait on disk
                if self.down:
                    self._next_probe = 0.0  # probe now, not after the backoff
                self._cond.notify_all()
                remaining = end - time.monotonic()
                if remaining <= 0 or self._thread is None:
                    break
                self._cond.wait(remaining)
            return not self._queue and not self._busy and not self._spool_pending

    def close(self, drain: float) -> None:
        """Send what is queued (up to ``drain`` seconds), stop, and spool whatever is left."""
        end = time.monotonic() + drain
        with self._cond:
            while (self._queue or self._busy) and self._thread is not None and time.monotonic() < end and not self.down:
                self._cond.wait(max(end - time.monotonic(), 0.0))
            self._stopping = True
            self._stop.set()
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(_JOIN_S)
        with self._cond:
            leftovers = list(self._queue)
            self._queue.clear()
            if self._thread is not None and self._thread.is_alive() and self._inflight:
                # still waiting for an answer: keep a copy on disk; if it was stored after all,
                # the replay gets 409s (same ids), never a duplicate
                leftovers.append(self._inflight)
        for batch in leftovers:
            self.spill(batch)

    def start_if_spooled(self) -> None:
        with self._cond:
            if self._spool_pending:
                self._ensure_thread()

    def after_fork(self) -> None:
        self._cond = threading.Condition()
        self._thread = None
        self._busy = False

    def _ensure_thread(self) -> None:  # with self._cond held
        if self._stopping or (self._thread is not None and self._thread.is_alive()):
            return
        self._thread = threading.Thread(target=self._run, name="modelspan-es-sender", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._next_job()
            if job is None:
                return
            try:
                if job.batch is not None:
                    self._send_live(job.batch)
                else:
                    self._replay_step()
            except Exception:  # never let the thread die: what was in hand is on disk or counted
                self.counters.warn("sender", "modelspan: sending to Elasticsearch failed; will try again",
                                   exc_info=True)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _next_job(self) -> _Job | None:
        with self._cond:
            while True:
                replay_due = self._spool_pending and time.monotonic() >= self._next_probe
                if self._queue and not (replay_due and self._replay_next):
                    self._busy, self._replay_next = True, True  # alternate: live, replay, live, ...
                    return _Job(self._queue.popleft())
                if self._stopping:
                    return None
                if replay_due:
                    self._busy, self._replay_next = True, False
                    return _Job(None)
                wait = max(self._next_probe - time.monotonic(), 0.01) if self._spool_pending else None
                self._cond.wait(wait)

    def _send_live(self, batch: list[Item]) -> None:
        if self.down:
            self.spill(batch)
            return
        self._inflight = batch
        try:
            result = self.delivery.send(batch, Deadline(self.timeout, self._stop))
        except Exception:  # a bug, not Elasticsearch: keep the batch on disk (ids dedupe a replay), probe later
            self._mark_down()
            self.spill(batch)
            raise
        finally:
            self._inflight = None
        if result.pending:
            self._mark_down()
            self.spill(result.pending)

    def _replay_step(self) -> None:
        try:
            self._replay_one()
        finally:
            with self._cond:
                self._probes += 1

    def _replay_one(self) -> None:
        segment = self.spool.claim_oldest()
        if segment is None:
            with self._cond:
                self._spool_pending = not self.spool.empty()
                if not self._spool_pending:
                    self._recovered()
            return
        try:
            result = self.delivery.send(segment.items, Deadline(self.timeout, self._stop))
        except Exception:  # put the file back whole, probe again later
            self.spool.release(segment, segment.items)
            self._mark_down()
            raise
        self.spool.release(segment, result.pending)
        self.counters.add("replayed", len(segment.items) - len(result.pending))
        if result.pending:
            self._mark_down()
        else:
            with self._cond:
                self._recovered()

    def _mark_down(self) -> None:
        with self._cond:
            self.down = True
            self._next_probe = time.monotonic() + next(self._delays)

    def _recovered(self) -> None:  # with self._cond held
        self.down = False
        self._delays = self._probe_backoff.delays()
        self._next_probe = 0.0
