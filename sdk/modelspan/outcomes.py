"""Ground truth that arrives late: ``record_outcome(prediction_id, actual)`` and the bulk form.

Labels are joined with predictions by prediction id when the analyzer computes model quality
(a batch row's id is ``<prediction id>:<row>``). They go to the SQLite table ``outcomes`` or the
Elasticsearch index ``modelspan-outcomes`` with the prediction id as document id, so recording a
label again replaces it. ``store`` is a store object, a SQLite path or an Elasticsearch URL; by
default ``open_store()`` picks the one the exporter would (contract 2)::

    modelspan.record_outcome(prediction.id, actual="churned")
    modelspan.record_outcomes([("a1b2", "stay"), ("c3d4:0", "churned")], store="https://es:9200")

Bad input raises ``ValueError`` before anything is written: labels are never silently lost.
An actual is stored as given (numpy scalars as the Python values they hold) and compared with
predicted labels in the canonical text form of ``semconv.category_value``, so a label recorded as
``1``, ``np.int64(1)`` or ``1.0`` matches the prediction ``"1"``; regression actuals stay numbers.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Iterable, Sequence
from typing import Any

from modelspan import _time
from modelspan.sqlite import timestamp_ns
from modelspan.store import Store, open_store

Row = tuple[str, Any, str]
"""A checked outcome: prediction id, actual (JSON-ready), ISO timestamp."""


def record_outcome(prediction_id: str, actual: Any, *, timestamp: Any = None,
                   store: Store | str | os.PathLike[str] | None = None) -> int:
    """Record the ground truth of one prediction; returns 1.

    >>> import tempfile, pathlib
    >>> record_outcome("p-1", "yes", store=pathlib.Path(tempfile.mkdtemp()) / "m.db")
    1
    """
    return record_outcomes([(prediction_id, actual, timestamp)], store=store)


def record_outcomes(pairs: Iterable[Sequence[Any]], store: Store | str | os.PathLike[str] | None = None) -> int:
    """Record many ``(prediction_id, actual[, timestamp])``; returns how many were stored."""
    rows = [check(pair, number) for number, pair in enumerate(pairs)]
    if not rows:
        return 0
    if isinstance(store, Store):
        return int(store.record_outcomes(rows))
    if store is not None and not isinstance(store, (str, os.PathLike)):
        raise ValueError(f"store must be a store object, a path or a URL, got {type(store).__name__}")
    opened = open_store(store)
    try:
        return int(opened.record_outcomes(rows))
    finally:
        opened.close()


def check(pair: Sequence[Any], number: int = 0) -> Row:
    """One outcome, validated: a clear ``ValueError`` (naming the row) instead of a lost label."""
    if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) not in (2, 3):
        raise ValueError(f"outcome {number}: expected (prediction_id, actual[, timestamp]), got {pair!r}")
    prediction_id, actual = pair[0], _plain(pair[1])
    stamp = pair[2] if len(pair) == 3 else None
    if prediction_id is None or isinstance(prediction_id, bool) or not isinstance(prediction_id, (str, int)) \
            or str(prediction_id) == "":
        raise ValueError(f"outcome {number}: prediction_id must be a non-empty string, got {prediction_id!r}")
    try:
        json.dumps(actual, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"outcome {number} ({prediction_id}): actual {actual!r} cannot be stored: {exc}") from None
    return str(prediction_id), actual, _timestamp(stamp, number)


def _plain(value: Any) -> Any:
    """numpy scalars (what models return) as the Python values they stand for."""
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy":
        return item()
    return value


def _timestamp(value: Any, number: int) -> str:
    if value is None:
        value = _dt.datetime.now(_dt.timezone.utc)
    if isinstance(value, _dt.datetime):
        return _time.iso(value)
    try:
        nanos = timestamp_ns(value)
    except (TypeError, ValueError):
        raise ValueError(f"outcome {number}: timestamp {value!r} is not a datetime or ISO 8601 string") from None
    return _time.iso(_time.from_ns(nanos))
