"""Which windows the Elasticsearch store answers from profile documents (docs/profiles.md)."""

from __future__ import annotations

import datetime as dt

import pytest

from modelspan.store._es_profiles import whole_intervals
from modelspan.store.types import Window

T = dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(("start", "end", "whole"), [
    (T, T + dt.timedelta(hours=1), True),
    (T + dt.timedelta(minutes=1), T + dt.timedelta(minutes=2), True),
    (T + dt.timedelta(seconds=5), T + dt.timedelta(minutes=2), False),  # starts inside a profile's minute
    (T, T + dt.timedelta(minutes=2, milliseconds=1), False),  # ends inside one
    (T + dt.timedelta(seconds=10), T + dt.timedelta(seconds=40), False),  # a demo phase of seconds
    (T + dt.timedelta(seconds=10), T + dt.timedelta(minutes=9, seconds=59), False),
    (T + dt.timedelta(seconds=10), T + dt.timedelta(minutes=10, seconds=10), True),  # long: whole minutes
])
def test_only_windows_on_profile_interval_boundaries_are_answered_from_profiles(
        start: dt.datetime, end: dt.datetime, whole: bool) -> None:
    assert whole_intervals(Window(start, end)) is whole
