"""Profile rows (docs/profiles.md): written per interval and process by the SQLite exporter, summed by readers.

A profile is any object with the attributes of ``modelspan.instrumentation._profiles.Profile`` (this layer
imports no instrumentation): model, version, module, start and length of its interval, calls, errors, rows,
spans started, spans dropped, latency sum/min/max and its log-bucketed histogram; since version 6 its
feature folds (``record(name)``), module paths per label and data-quality counts.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any, Final

from modelspan.sqlite._db import transaction

COLUMNS: Final = ("model_name", "model_version", "module", "start_ns", "interval_ns", "calls", "errors", "rows",
                  "spans", "dropped", "latency_sum", "latency_min", "latency_max", "zeros", "buckets", "features",
                  "paths", "checks", "features_dropped")
_INSERT: Final = f"INSERT INTO profiles ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


def profile_row(profile: Any) -> tuple[Any, ...]:
    """The ``profiles`` row of one profile."""
    buckets = json.dumps({str(index): int(count) for index, count in sorted(profile.buckets.items())},
                         separators=(",", ":"))
    return (str(profile.model), str(profile.version), str(profile.module), int(profile.start_ns),
            int(profile.interval_ns), int(profile.calls), int(profile.errors), float(profile.rows),
            int(profile.spans), int(profile.dropped), int(profile.latency_sum), profile.latency_min,
            profile.latency_max, int(profile.zeros), buckets, *_feature_columns(profile))


def _feature_columns(profile: Any) -> tuple[str, str, str, int]:
    """``features``, ``paths``, ``checks`` (JSON) and ``features_dropped`` of a profile (docs/profiles.md)."""
    features = [fold.record(name) for (name, _), fold in sorted(
        getattr(profile, "features", {}).items(), key=lambda item: (item[0][0], item[0][1] or ""))]
    paths = getattr(profile, "paths", {})
    checks = getattr(profile, "checks", {})
    return (_json(features), _json(paths), _json(checks), int(getattr(profile, "features_dropped", 0)))


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def write_profiles(connection: sqlite3.Connection, profiles: Sequence[Any]) -> int:
    """Insert ``profiles`` in one transaction; returns how many rows were written."""
    rows = [profile_row(profile) for profile in profiles]
    if rows:
        with transaction(connection):
            connection.executemany(_INSERT, rows)
    return len(rows)
