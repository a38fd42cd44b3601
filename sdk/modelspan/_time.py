"""Time, in one place: reading timestamps and writing the one form modelspan stores.

Every time modelspan writes (window bounds, finding timestamps, checkpoints, outcome times,
baseline creation) is UTC ISO 8601 with milliseconds and a ``Z``, ``2026-11-22T10:00:00.000Z``:
strings of that form sort as the instants do, so finding ids and checkpoints compare as text.
Reading is lenient: ``Z`` or a UTC offset, any number of fraction digits (Elasticsearch writes
nanoseconds), and a time without an offset is UTC. Only the standard library is imported, so any
layer may use this module (docs/architecture.md, the layers).
"""

from __future__ import annotations

import datetime as _dt
import re

UTC = _dt.timezone.utc
EPOCH = _dt.datetime(1970, 1, 1, tzinfo=UTC)

# the fraction of the seconds, and an offset after it (or a Z); Python 3.10 reads neither
# more than six fraction digits nor a Z
_TAIL = re.compile(r"(?P<seconds>:\d{2})(?:[.,](?P<fraction>\d+))?(?P<offset>[zZ]|[+-]\d{2}(?::?\d{2})?)?$")


def utc(moment: _dt.datetime) -> _dt.datetime:
    """``moment`` in UTC; a naive datetime is taken to be UTC already.

    >>> utc(_dt.datetime(2026, 11, 22, 10)).isoformat()
    '2026-11-22T10:00:00+00:00'
    """
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso(moment: _dt.datetime) -> str:
    """The stored form: UTC, milliseconds (truncated, as Elasticsearch range bounds see them), ``Z``.

    >>> iso(_dt.datetime(2026, 11, 22, 11, 0, 0, 123999, tzinfo=_dt.timezone(_dt.timedelta(hours=1))))
    '2026-11-22T10:00:00.123Z'
    """
    return utc(moment).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse(value: object) -> _dt.datetime:
    """An ISO 8601 date or time as an aware UTC datetime (microseconds; finer digits are cut).

    >>> parse("2026-11-22T10:00:00.123456789Z").isoformat()
    '2026-11-22T10:00:00.123456+00:00'
    >>> parse("2026-11-22T12:00:00+02:00") == parse("2026-11-22 10:00:00")
    True
    >>> parse("yesterday")
    Traceback (most recent call last):
    ValueError: not an ISO 8601 time: 'yesterday'
    """
    moment, _ = _split(value)
    return moment


def parse_ns(value: object) -> int:
    """An ISO 8601 time as nanoseconds since the epoch, keeping every fraction digit given.

    >>> parse_ns("2026-11-22T10:00:00.000000250Z")
    1795341600000000250
    """
    moment, nanos = _split(value)
    return to_ns(moment.replace(microsecond=0)) + nanos


def to_ns(moment: _dt.datetime) -> int:
    """Nanoseconds since the epoch, exactly (integer arithmetic; a float would round).

    >>> to_ns(_dt.datetime(1970, 1, 1, 0, 0, 1, 5, tzinfo=_dt.timezone.utc))
    1000005000
    """
    delta = utc(moment) - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def from_ns(nanos: int) -> _dt.datetime:
    """The UTC datetime of ``nanos`` since the epoch (cut to the microsecond).

    >>> iso(from_ns(1795341600250999999))
    '2026-11-22T10:00:00.250Z'
    """
    return EPOCH + _dt.timedelta(microseconds=nanos // 1000)


def from_millis(millis: float) -> _dt.datetime:
    """The UTC datetime of epoch milliseconds.

    >>> iso(from_millis(1795341600250))
    '2026-11-22T10:00:00.250Z'
    """
    return EPOCH + _dt.timedelta(milliseconds=millis)


def _split(value: object) -> tuple[_dt.datetime, int]:
    """(UTC datetime cut to microseconds, nanoseconds within its second) of an ISO 8601 text."""
    text = str(value).strip()
    match = _TAIL.search(text)
    fraction = (match["fraction"] or "") if match else ""
    if match:
        offset = match["offset"] or ""
        # Python 3.10's fromisoformat reads only +HH:MM (3.11 also +HHMM and +HH): written out here
        offset = "+00:00" if offset in ("z", "Z") else offset[:3] + ":" + (offset[3:].lstrip(":") or "00") \
            if offset else ""
        text = text[: match.start()] + match["seconds"] + (f".{fraction[:6]:0<6}" if fraction else "") + offset
    try:
        moment = _dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 time: {value!r}") from None
    return utc(moment), int(f"{fraction[:9]:0<9}")
