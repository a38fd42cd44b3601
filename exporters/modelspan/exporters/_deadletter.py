"""Documents that can never be stored, kept with the reason instead of retried forever.

A mapping error (``mapper_parsing_exception``: a feature first seen as a number now arrives as
text), a 400 or a 403 will fail the same way on every retry. Each such document is appended to a
JSONL file as ``{"time", "id", "index", "status", "reason", "action", "document"}`` so it can be
inspected, fixed (for instance by installing the index templates) and re-sent. The file is
bounded; past the bound, or when the file cannot be written (a path in a directory that cannot be
created, a read-only or full disk), dead letters are counted as drops, never raised: a failing
dead-letter file must not cost the other documents of the batch (those to retry, those stored).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from modelspan import _time
from modelspan.exporters._bulk import Outcome


class DeadLetters:
    """An append-only JSONL file of failed documents, at most ``max_bytes``."""

    def __init__(self, path: str | os.PathLike[str], max_bytes: int) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self.error = ""
        """Why the last write kept nothing, or ``""`` (for the log line of the drops it caused)."""

    def write(self, outcomes: Sequence[Outcome]) -> int:
        """Append ``outcomes``; returns how many were written (the rest did not fit, or the file failed)."""
        if not outcomes:
            return 0
        lines = [self._line(outcome) for outcome in outcomes]
        with self._lock:
            try:
                return self._append(lines)
            except OSError as exc:  # a file-system error: counted as drops by the caller, never raised
                self.error = f"{self.path} cannot be written ({type(exc).__name__}: {exc})"
                return 0

    def _append(self, lines: list[bytes]) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        size = start = self.path.stat().st_size if self.path.exists() else 0
        kept = []
        for line in lines:
            if size + len(line) > self.max_bytes:
                break
            kept.append(line)
            size += len(line)
        self.error = "" if len(kept) == len(lines) else f"{self.path} is full ({self.max_bytes} bytes)"
        if kept:
            try:
                with self.path.open("ab") as file:
                    file.write(b"".join(kept))
            except OSError:
                with contextlib.suppress(OSError):  # no half line left behind for read() to choke on
                    os.truncate(self.path, start)
                raise
        return len(kept)

    def read(self) -> list[dict[str, object]]:
        """Every dead letter in the file (for tests and for re-sending)."""
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_bytes().splitlines() if line.strip()]

    @staticmethod
    def _line(outcome: Outcome) -> bytes:
        action, _, source = outcome.item.lines.partition(b"\n")
        try:
            document: object = json.loads(source)
        except ValueError:
            document = source.decode(errors="replace")
        record = {
            "time": _time.iso(_dt.datetime.now(_time.UTC)),
            "id": outcome.item.id,
            "index": outcome.item.index,
            "status": outcome.status,
            "reason": outcome.reason,
            "action": json.loads(action),
            "document": document,
        }
        return json.dumps(record, separators=(",", ":")).encode() + b"\n"
