"""A bounded on-disk queue of bulk items, kept while Elasticsearch is unreachable.

Each spooled batch is one file of NDJSON bulk lines (``{"create":...}`` + source), written to a
temporary name and renamed, so a crash never leaves half a batch where the replayer looks. The
replayer claims the oldest file by renaming it (several processes, e.g. gunicorn workers, may
share one spool directory), sends it, and deletes it once every item is stored, duplicated (409)
or dead-lettered. Claims of a process that died are released at start. The total size is
bounded: a batch that does not fit is dropped and counted, never kept in memory instead; so is a
batch the disk refuses (full, read-only), and its temporary file is removed.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from modelspan.exporters._bulk import Item

SUFFIX: Final = ".ndjson"
_CLAIM: Final = ".claim-"
_counter = itertools.count()
_claimed_here: set[str] = set()  # files this process is sending right now (any Spool instance)


@dataclass(frozen=True)
class Segment:
    """One claimed spool file and its items."""

    path: Path
    items: list[Item]


class Spool:
    """Files of bulk items under ``directory``, at most ``max_bytes`` in total."""

    def __init__(self, directory: str | os.PathLike[str], max_bytes: int) -> None:
        if max_bytes <= 0:
            raise ValueError("spool max_bytes must be positive")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self.error = ""
        """Why the last ``append`` could not write (``""``: it could, or there was no room)."""
        self._release_dead_claims()
        self._bytes, self._documents = self._scan(count_documents=True)
        self._last_scan = time.monotonic()

    def append(self, items: Sequence[Item]) -> bool:
        """Write ``items`` as one file; False (nothing written) when the spool has no room or the
        disk refuses the write (``error`` says why); never raises, never leaves a partial file."""
        data = b"".join(item.lines for item in items)
        with self._lock:
            self.error = ""
            if self._bytes + len(data) > self.max_bytes:
                # other processes sharing the directory may have replayed: look again, at most 1/s
                if time.monotonic() - self._last_scan > 1.0:
                    self._bytes = self._scan(count_documents=False)[0]
                    self._last_scan = time.monotonic()
                if self._bytes + len(data) > self.max_bytes:
                    return False
            name = f"{time.time_ns():020d}-{os.getpid()}-{next(_counter):08d}"
            try:
                _write(self.directory / (name + SUFFIX), data)
            except OSError as exc:  # disk full, read-only, ...: the caller counts the drop
                self.error = f"{self.directory} cannot be written ({type(exc).__name__}: {exc})"
                return False
            self.error = ""
            self._bytes += len(data)
            self._documents += len(items)
        return True

    def claim_oldest(self) -> Segment | None:
        """Take the oldest unclaimed file (renamed so no other process takes it), or None."""
        for path in sorted(self.directory.glob("*" + SUFFIX)):
            claimed = path.with_name(f"{path.name}{_CLAIM}{os.getpid()}")
            try:
                os.replace(path, claimed)
            except FileNotFoundError:  # another process claimed it first
                continue
            _claimed_here.add(str(claimed))
            return Segment(claimed, parse(claimed.read_bytes()))
        with self._lock:  # nothing left to send here: resynchronise the gauges with the directory
            self._bytes, self._documents = self._scan(count_documents=True)
        return None

    def release(self, segment: Segment, remaining: Sequence[Item] = ()) -> None:
        """Finish a claimed file: delete it, or put back the items still to send."""
        data = b"".join(item.lines for item in remaining)
        _claimed_here.discard(str(segment.path))
        with self._lock:
            size = segment.path.stat().st_size if segment.path.exists() else 0
            if remaining:
                original = segment.path.with_name(segment.path.name.split(_CLAIM)[0])
                try:
                    _write(original, data)
                except OSError:  # keep the whole claimed file: the stored items come back as 409s
                    os.replace(segment.path, original)
                    return
                with contextlib.suppress(FileNotFoundError):
                    segment.path.unlink()
            else:
                with contextlib.suppress(FileNotFoundError):
                    segment.path.unlink()
            self._bytes = max(self._bytes - size + len(data), 0)
            self._documents = max(self._documents - len(segment.items) + len(remaining), 0)

    def empty(self) -> bool:
        """True when no unclaimed file waits (claimed ones are being sent by someone)."""
        return not any(self.directory.glob("*" + SUFFIX))

    def size(self) -> dict[str, int]:
        """Bytes and documents waiting (this process's view; rescanned when near the bound)."""
        with self._lock:
            return {"spool_bytes": self._bytes, "spool_documents": self._documents}

    def _scan(self, *, count_documents: bool) -> tuple[int, int]:
        total = documents = 0
        for path in self.directory.iterdir():
            if path.name.endswith(SUFFIX) or _CLAIM in path.name:
                with contextlib.suppress(FileNotFoundError):
                    total += path.stat().st_size
                    if count_documents:
                        documents += path.read_bytes().count(b"\n") // 2
        return total, documents

    def _release_dead_claims(self) -> None:
        for path in self.directory.glob(f"*{_CLAIM}*"):
            owner = path.name.rsplit("-", 1)[-1]
            if owner.isdigit() and str(path) not in _claimed_here and not _alive(int(owner)):
                with contextlib.suppress(FileNotFoundError):
                    os.replace(path, path.with_name(path.name.split(_CLAIM)[0]))
        for path in self.directory.glob("*.tmp"):
            if time.time() - path.stat().st_mtime > 60:
                path.unlink(missing_ok=True)


def _write(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all: a temporary file renamed into place, removed on failure."""
    temporary = path.with_name(path.name + ".tmp")
    try:
        with open(temporary, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def parse(data: bytes) -> list[Item]:
    """Items from NDJSON bulk lines (action line, source line)."""
    lines = data.splitlines(keepends=True)
    items = []
    for action, source in zip(lines[::2], lines[1::2], strict=False):
        identifier, index = _id_and_index(action)
        items.append(Item(identifier, index, action + source))
    return items


def _id_and_index(action: bytes) -> tuple[str, str]:
    meta = next(iter(json.loads(action).values()))
    return str(meta.get("_id", "")), str(meta.get("_index", ""))


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        # not claimed by this process now (checked by the caller): left by an earlier process that
        # had our pid, e.g. PID 1 of a restarted container
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
