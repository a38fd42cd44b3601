"""The one time helper: what it writes sorts as the instants do, and what it reads is exact."""

from __future__ import annotations

import datetime as _dt
import doctest

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelspan import _time

MOMENTS = st.datetimes(
    min_value=_dt.datetime(1971, 1, 1), max_value=_dt.datetime(2200, 1, 1),
    timezones=st.sampled_from([_dt.timezone.utc, _dt.timezone(_dt.timedelta(hours=-7, minutes=-30))]),
)


def test_doctests() -> None:
    failures, tried = doctest.testmod(_time)
    assert failures == 0 and tried >= 8


@given(MOMENTS)
def test_parse_reads_back_what_iso_writes_to_the_millisecond(moment: _dt.datetime) -> None:
    text = _time.iso(moment)
    assert text.endswith("Z") and len(text) == len("2026-11-22T10:00:00.000Z")
    assert _time.parse(text) == _time.utc(moment).replace(microsecond=moment.microsecond // 1000 * 1000)


@given(MOMENTS, MOMENTS)
def test_written_times_sort_as_the_instants_do(a: _dt.datetime, b: _dt.datetime) -> None:
    if _time.parse(_time.iso(a)) != _time.parse(_time.iso(b)):
        assert (_time.iso(a) < _time.iso(b)) == (a < b)


@given(st.integers(min_value=0, max_value=7_258_118_400 * 10**9))
def test_nanoseconds_survive_iso_with_nine_digits(nanos: int) -> None:
    moment = _time.from_ns(nanos)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos % 10**9:09d}Z"
    assert _time.parse_ns(text) == nanos
    assert _time.to_ns(moment) == nanos // 1000 * 1000


@pytest.mark.parametrize("text, expected", [
    ("2026-11-22T10:00:00Z", "2026-11-22T10:00:00.000Z"),
    ("2026-11-22T10:00:00.5+01:00", "2026-11-22T09:00:00.500Z"),
    ("2026-11-22T10:00:00,25-0130", "2026-11-22T11:30:00.250Z"),
    ("2026-11-22 10:00", "2026-11-22T10:00:00.000Z"),
    ("2026-11-22", "2026-11-22T00:00:00.000Z"),
    (" 2026-11-22T10:00:00.123456789z ", "2026-11-22T10:00:00.123Z"),
])
def test_accepted_forms(text: str, expected: str) -> None:
    assert _time.iso(_time.parse(text)) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "2026-13-01T00:00:00Z", "1763805600000", "2026-11-22T25:00Z"])
def test_not_a_time_is_a_clear_error(text: str) -> None:
    with pytest.raises(ValueError, match="not an ISO 8601 time"):
        _time.parse(text)
