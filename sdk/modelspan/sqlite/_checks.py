"""Checks made before a store file is written to, and the integrity check of ``modelspan store check``.

Each refusal is a ``StoreFileError`` whose message is one line: the path, the cause and the fix.
Nothing here writes: a refused file stays byte-identical.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import modelspan.sqlite._schema as _schema


class StoreFileError(RuntimeError):
    """The store file cannot be used as asked (missing, not a database, damaged, newer, read-only).

    The message is one line naming the path, the cause and the fix; the file was not changed.
    """


class NoStoreError(StoreFileError):
    """There is no file at the path, and the caller asked not to create one."""


def check_path(target: Path, must_exist: bool) -> None:
    if target.is_dir():
        raise StoreFileError(f"{target} is a directory, not a store file: give the path of a .db file")
    if must_exist and not target.exists():
        raise NoStoreError(f"no store at {target} (nothing was created): check the path, or write spans "
                             "there first (the SQLite exporter, 'modelspan demo')")


def check_writable(target: Path) -> None:
    if str(target) != ":memory:" and target.exists() and not os.access(target, os.W_OK):
        raise StoreFileError(f"{target} is read-only: use a read command (analyze --no-write, report, "
                             "incidents) or make the file writable")


def check_version(connection: sqlite3.Connection, target: Path, read_only: bool) -> None:
    """Refuse, before any write, a file that is not a database, is truncated or needs a migration."""
    version = int(connection.execute("PRAGMA user_version").fetchone()[0])
    if str(target) != ":memory:" and target.exists() and target.stat().st_size > 0:
        pages = int(connection.execute("PRAGMA page_count").fetchone()[0])
        size = int(connection.execute("PRAGMA page_size").fetchone()[0])
        wal = Path(f"{target}-wal")
        if target.stat().st_size < pages * size and not (wal.exists() and wal.stat().st_size > 0):
            raise StoreFileError(f"{target} is truncated ({target.stat().st_size} of {pages * size} bytes): "
                                 "restore it from a backup, or move it away to start a new store")
    if version > _schema.SCHEMA_VERSION:
        raise StoreFileError(f"{target} has store schema version {version}, newer than this modelspan's "
                             f"({_schema.SCHEMA_VERSION}); the file was not changed: upgrade modelspan")
    if read_only and version == 0:
        raise StoreFileError(f"{target} holds no modelspan data (empty or not a modelspan store): check the "
                             "path, or write spans there first")
    if read_only and version < _schema.SCHEMA_VERSION:
        raise StoreFileError(f"{target} has store schema version {version}, older than this modelspan's "
                             f"({_schema.SCHEMA_VERSION}): run a writing command once to migrate it "
                             "(e.g. 'modelspan analyze --once' without --no-write)")


def integrity_problems(connection: sqlite3.Connection, *, quick: bool = False) -> list[str]:
    """``PRAGMA integrity_check`` (or ``quick_check``): the problems found, empty when the file is sound."""
    pragma = "quick_check" if quick else "integrity_check"
    try:
        rows = [str(row[0]) for row in connection.execute(f"PRAGMA {pragma}").fetchall()]
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    return [] if rows == ["ok"] else rows
