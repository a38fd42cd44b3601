"""What an analysed window is compared with.

- ``"baseline"``: the model version's stored baseline profile (training data) for drift, data
  quality and module paths. Latency, error rate and labelled accuracy are not in a profile, so
  those are compared with the *previous* window of the same length.
- ``"previous"``: the window just before, same length.
- ``"yesterday"`` / ``"last_week"``: the same hours one day / seven days earlier (seasonal traffic).
- a :class:`Window`: a fixed production window.

With a production reference every comparison uses that window (with the baseline's bins, so both
windows are binned the same way).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from modelspan.store import Window

REFERENCES = ("baseline", "previous", "yesterday", "last_week")
_SHIFTS = {"yesterday": _dt.timedelta(days=1), "last_week": _dt.timedelta(days=7)}


@dataclass(frozen=True)
class Reference:
    """``kind`` as written in findings; ``window`` the production window compared against."""

    kind: str
    window: Window
    profile: bool
    """True when drift, data quality and paths compare with the baseline profile."""


def resolve(reference: str | Window, window: Window) -> Reference:
    """The reference for ``window``.

    >>> w = Window.parse("2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z")
    >>> resolve("yesterday", w).window.iso()
    ('2026-11-21T10:00:00.000Z', '2026-11-21T11:00:00.000Z')
    >>> r = resolve("baseline", w); r.kind, r.profile, r.window.iso()[0]
    ('baseline', True, '2026-11-22T09:00:00.000Z')
    """
    if isinstance(reference, Window):
        if reference.end <= reference.start:
            raise ValueError("the reference window is empty")
        return Reference("window", reference, profile=False)
    if reference not in REFERENCES:
        raise ValueError(f"reference must be one of {', '.join(REFERENCES)} or a Window, got {reference!r}")
    length = window.end - window.start
    if reference in _SHIFTS:
        shift = _SHIFTS[reference]
        return Reference(reference, Window(window.start - shift, window.end - shift), profile=False)
    previous = Window(window.start - length, window.start)
    return Reference(reference, previous, profile=reference == "baseline")
