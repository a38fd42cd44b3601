"""Documents that can never be stored, kept with the reason instead of retried forever.

A mapping error (``mapper_parsing_exception``: a feature first seen as a number now arrives as
text), a 400 or a 403 will fail the same way on every retry. Each such document is appended to a
JSONL file as ``{"time", "id", "index", "status", "reason", "action", "document"}`` so it can be
inspected, fixed (for instance by installing the index templates) and re-sent. The file is
bounded; past the bound, dead letters are counted as drops.
"""

from __future__ import annotations

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

    def write(self, outcomes: Sequence[Outcome]) -> int:
        """Append ``outcomes``; returns how many were written (the rest did not fit)."""
        if not outcomes:
            return 0
        lines = [self._line(outcome) for outcome in outcomes]
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            size = self.path.stat().st_size if self.path.exists() else 0
            kept = []
            for line in lines:
                if size + len(line) > self.max_bytes:
                    break
                kept.append(line)
                size += len(line)
            if kept:
                with self.path.open("ab") as file:
                    file.write(b"".join(kept))
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
