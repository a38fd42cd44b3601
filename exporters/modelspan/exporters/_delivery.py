"""Getting a batch of bulk items stored: retries, dead letters, and what is left for the spool.

``Delivery.send(items, deadline)`` returns the items it could not settle before the deadline
(or at once when Elasticsearch refuses connections, so the export thread never sits out an
outage); the caller spools them. Every item ends in exactly one of: stored (2xx), duplicate (409,
stored by an earlier try whose answer was lost), dead letter (can never succeed), or returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from modelspan.exporters import _bulk
from modelspan.exporters._bulk import Item, Outcome
from modelspan.exporters._counters import Counters
from modelspan.exporters._deadletter import DeadLetters
from modelspan.exporters._retry import RETRYABLE_STATUS, Backoff, Deadline, retry_after
from modelspan.exporters._transport import Response, Transport, TransportError

# 401/403 are a configuration problem, not the documents': keep them (spool) until it is fixed.
_UNAVAILABLE_STATUS = RETRYABLE_STATUS | {401, 403}
# After a 413 the request size is halved, and it will not grow past 3/4 of the refused size (3/4
# of the previous ceiling on another 413: a lasting limit is found in a few steps, not probed on
# every request). Each accepted request doubles the size up to that ceiling; after this many
# accepted requests the ceiling is forgotten, so a one-off 413 (or a lifted limit) stops costing.
_FORGET_REFUSED_AFTER = 16


@dataclass
class Result:
    """Items still to send, and whether Elasticsearch looks down (connection refused / unavailable)."""

    pending: list[Item]
    down: bool


class Delivery:
    """Sends items in bulk requests of at most ``max_bulk_bytes`` (before gzip), with retries."""

    def __init__(self, transport: Transport, dead_letters: DeadLetters, counters: Counters, *,
                 request_timeout: float, max_bulk_bytes: int, backoff: Backoff) -> None:
        self.transport = transport
        self.dead_letters = dead_letters
        self.counters = counters
        self.request_timeout = request_timeout
        self.max_bulk_bytes = max_bulk_bytes
        self.configured_bulk_bytes = max_bulk_bytes
        self.ceiling_bytes: int | None = None  # below the bodies answered 413 lately
        self._accepted_since_refused = 0
        self.backoff = backoff

    def send(self, items: Sequence[Item], deadline: Deadline) -> Result:
        pending = list(items)
        delays = self.backoff.delays()
        while pending:
            retry: list[Item] = []
            hint: float | None = None
            for start, end in _bounds(pending, self.max_bulk_bytes):
                chunk = pending[start:end]
                if deadline.expired():
                    return Result(retry + pending[start:], down=False)
                self.counters.add("requests")
                try:
                    response = self.transport.bulk(_bulk.body(chunk), min(self.request_timeout, deadline.remaining()))
                except TransportError as exc:
                    self.counters.add("request_errors")
                    self.counters.warn("transport", "modelspan: Elasticsearch unreachable (%s); retrying, then "
                                       "spooling", exc)
                    if exc.refused:  # nothing listens: spool now, the export thread must not wait it out
                        return Result(retry + pending[start:], down=True)
                    retry.extend(chunk)
                    continue
                again, chunk_hint = self._settle(chunk, response)
                retry.extend(again)
                if chunk_hint is not None:
                    hint = max(hint or 0.0, chunk_hint)
                if again and response.status in _UNAVAILABLE_STATUS and response.status != 429:
                    retry.extend(pending[end:])  # the cluster is unavailable: stop hammering it this round
                    break
                if again and response.status == 413:
                    retry.extend(pending[end:])  # cut the rest again at the smaller size
                    break
            pending = retry
            if pending:
                self.counters.add("retries", len(pending))
                if not deadline.wait(max(next(delays), hint or 0.0)):
                    return Result(pending, down=False)
        return Result([], down=False)

    def _settle(self, chunk: list[Item], response: Response) -> tuple[list[Item], float | None]:
        """Count and dead-letter what is final; return the items to retry and a Retry-After hint."""
        status = response.status
        if status in _UNAVAILABLE_STATUS:
            self.counters.add("request_errors")
            self.counters.warn(f"status-{status}", "modelspan: Elasticsearch answered %s to a bulk request; retrying "
                               "(spooling if it persists): %s", status, response.text[:300])
            return chunk, retry_after(response.headers)
        if status == 413 and len(chunk) > 1:
            self._shrink(chunk)
            return chunk, 0.0
        if 200 <= status < 300:
            self._grow()
        if status == 200 and response.data is None:
            return self._unreadable(chunk, response), None
        if status != 200 or response.data is None:
            self.counters.add("request_errors")
            reason = f"bulk request rejected with HTTP {status}: {response.text[:500]}"
            self.dead_letter([Outcome(item, _bulk.DEAD, status, reason) for item in chunk])
            return [], None
        answered = response.data.get("items")
        if response.data.get("errors") is False and isinstance(answered, list) and len(answered) == len(chunk):
            self.counters.add("stored", len(chunk))  # the common case: no per-item verdicts to build
            return [], None
        try:
            answers = _bulk.outcomes(chunk, response.data)
        except ValueError as exc:  # an answer we cannot pair with the request: send again (409s dedupe)
            self.counters.add("request_errors")
            self.counters.warn("pairing", "modelspan: %s; retrying the batch", exc)
            return chunk, None
        stored = sum(1 for outcome in answers if outcome.verdict == _bulk.STORED)
        duplicates = sum(1 for outcome in answers if outcome.verdict == _bulk.DUPLICATE)
        self.counters.add("stored", stored + duplicates)
        self.counters.add("duplicates", duplicates)
        again = [outcome.item for outcome in answers if outcome.verdict == _bulk.RETRY]
        self.dead_letter([outcome for outcome in answers if outcome.verdict == _bulk.DEAD])
        return again, (retry_after(response.headers) if again else None)

    def _unreadable(self, chunk: list[Item], response: Response) -> list[Item]:
        """A ``200`` whose body is not the bulk answer (cut short by a proxy or a reset): some items may
        be stored, none is known to be. Items with an ``_id`` are sent again (a stored one answers 409, so
        nothing is stored twice); one without an id could be stored twice, so it is dead-lettered instead."""
        self.counters.add("request_errors")
        self.counters.warn("unreadable", "modelspan: Elasticsearch answered 200 with a body that is not a bulk "
                           "answer (%d bytes: %r...); sending the batch again", len(response.text), response.text[:100])
        reason = (f"HTTP 200 with an unreadable answer ({response.text[:200]!r}); the document may be stored, and "
                  "has no _id, so sending it again could store it twice")
        self.dead_letter([Outcome(item, _bulk.DEAD, 200, reason) for item in chunk if not item.id])
        return [item for item in chunk if item.id]

    def _shrink(self, chunk: list[Item]) -> None:
        """A 413: lower the ceiling below the refused size and halve the requests."""
        refused = len(_bulk.body(chunk))
        previous = refused if self.ceiling_bytes is None else min(refused, self.ceiling_bytes)
        self.ceiling_bytes = max(previous * 3 // 4, 1)
        self._accepted_since_refused = 0
        half = len(_bulk.body(chunk[: len(chunk) // 2]))
        self.max_bulk_bytes = max(min(half, self.ceiling_bytes), 1)

    def _grow(self) -> None:
        """An accepted request: grow back towards the configured size (one 413 is not forever)."""
        if self.max_bulk_bytes >= self.configured_bulk_bytes:
            return
        self._accepted_since_refused += 1
        if self._accepted_since_refused >= _FORGET_REFUSED_AFTER:
            self.ceiling_bytes = None
        top = self.configured_bulk_bytes
        if self.ceiling_bytes is not None:
            top = min(top, self.ceiling_bytes)
        self.max_bulk_bytes = max(self.max_bulk_bytes, min(2 * self.max_bulk_bytes, top))

    def dead_letter(self, outcomes: list[Outcome]) -> bool:
        """Write ``outcomes`` to the dead-letter file and count them; False when some were dropped (file full)."""
        if not outcomes:
            return True
        written = self.dead_letters.write(outcomes)
        self.counters.add("dead_lettered", written)
        if written < len(outcomes):
            self.counters.drop([outcome.item for outcome in outcomes[written:]])
            self.counters.warn("dead-dropped", "modelspan: %d document(s) can never be stored (e.g. %s: %s) and the "
                               "dead-letter file refused them: %s; counted as dropped", len(outcomes) - written,
                               outcomes[written].item.id, outcomes[written].reason[:300], self.dead_letters.error)
        if written:
            self.counters.warn("dead", "modelspan: %d document(s) can never be stored, e.g. %s; written to %s",
                               written, outcomes[0].reason[:300], self.dead_letters.path)
        return written == len(outcomes)


def _bounds(items: list[Item], max_bytes: int) -> list[tuple[int, int]]:
    """Consecutive ``[start, end)`` slices of ``items`` of at most ``max_bytes`` each (at least one item)."""
    bounds, start, size = [], 0, 0
    for number, item in enumerate(items):
        if number > start and size + len(item.lines) > max_bytes:
            bounds.append((start, number))
            start, size = number, 0
        size += len(item.lines)
    if start < len(items):
        bounds.append((start, len(items)))
    return bounds
