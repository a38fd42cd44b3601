"""The demo's timeline: a clean stretch, then one planted problem per phase.

=============  ==============================================================================
phase          what happens (and what the analyzer should name)
=============  ==============================================================================
baseline       normal traffic; the reference window every later phase is compared with
unit_change    a client release sends ``temperature`` in Fahrenheit: drift and out-of-range
               values on ``temperature``, the predictions swing to "high", and the late labels
               show the accuracy drop
new_category   30% of sites report a ``device`` the model never saw (``heat_pump``); the app's
               tariff table does not know it either, so exactly those requests fail with 500:
               the application error burst and the model's novelty share their traces
slow_module    a regressed build of the ``tree_scorer`` sub-module takes 120 ms longer (3x its
               usual 60 ms; the requests it serves get slower too, which the app-side rule also
               reports)
tariff_outage  the app's tariff service is down for commercial sites (503): an application
               error burst with nothing wrong in the model
=============  ==============================================================================

Time compression: spans are stamped in real time and each phase is its own window (the
generator drains in-flight requests between phases). Every phase after ``baseline`` is analysed
against the ``baseline`` window as reference, so a problem is compared with clean traffic of the
same service, never with another problem; the baseline window itself is analysed against the
training profile, which must flag nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from modelspan.demo._model import Faults, labels_for, sample_rows
from modelspan.demo._traffic import Phase, Requests, Row

SLOW_MS = 120.0
"""Extra latency of the regressed ``tree_scorer``: its p95 triples, well over the latency rule's x1.5
whatever delays a busy machine adds to the reference phase (``_model.TREE_MS`` says why)."""
NEW_DEVICE = "heat_pump"
NEW_DEVICE_SHARE = 0.3
SHARES = {"baseline": 0.28, "unit_change": 0.18, "new_category": 0.18, "slow_module": 0.18, "tariff_outage": 0.18}
"""Share of the run each phase gets; the reference gets the most data."""


@dataclass(frozen=True)
class Expected:
    """A problem the analyzer must report in a phase: finding types and what they must name."""

    phase: str
    types: frozenset[str]
    """At least one finding of each of these types must be flagged in the phase's window."""
    feature: str | None = None
    module: str | None = None
    allowed: frozenset[str] = frozenset()
    """Consequences that may also be flagged in this window (e.g. the predictions a unit change moves,
    or the correlator's model-only incident that groups the window's model findings)."""


EXPECTED = (
    Expected("unit_change", frozenset({"drift", "quality"}), feature="temperature",
             allowed=frozenset({"data_quality", "prediction_drift", "path_drift", "incident"})),
    Expected("new_category", frozenset({"drift", "application_errors", "incident"}), feature="device",
             allowed=frozenset({"data_quality"})),
    Expected("slow_module", frozenset({"latency"}), module="tree_scorer",
             allowed=frozenset({"incident", "application_latency"})),
    Expected("tariff_outage", frozenset({"application_errors", "incident"})),
)
"""What the demo plants, per phase; the tests and the summary printed at the end read this."""



def _labelled(change: Callable[[Row, np.random.Generator], Row]) -> Callable[[np.random.Generator, int], Requests]:
    """A phase's requests: the truth comes from the real (Celsius, known-device) site."""

    def make(rng: np.random.Generator, n: int) -> Requests:
        rows = sample_rows(rng, n, stratified=True)
        truths = labels_for(rows, rng, stratified=True)
        return [(change(dict(row), rng), truth) for row, truth in zip(rows, truths, strict=True)]

    return make


def _same(row: Row, rng: np.random.Generator) -> Row:
    return row


def _fahrenheit(row: Row, rng: np.random.Generator) -> Row:
    row["temperature"] = round(float(row["temperature"]) * 9.0 / 5.0 + 32.0, 2)
    return row


def _new_device(row: Row, rng: np.random.Generator) -> Row:
    if rng.random() < NEW_DEVICE_SHARE:  # whichever device the site had: no known share is favoured
        row["device"] = NEW_DEVICE
    return row


def phases(faults: Faults, seconds: float) -> list[Phase]:
    """The timeline for a run of ``seconds`` of traffic; each phase switches its faults on."""

    def switch(slow_ms: float = 0.0, outage: bool = False) -> Callable[[], None]:
        def enter() -> None:
            faults.slow_module_ms = slow_ms
            faults.tariff_outage = outage

        return enter

    plan = [
        ("baseline", "normal traffic (the reference window)", _same, switch()),
        ("unit_change", "temperature arrives in Fahrenheit", _fahrenheit, switch()),
        ("new_category", f"{NEW_DEVICE_SHARE:.0%} of sites report device {NEW_DEVICE!r}; the app has no tariff",
         _new_device, switch()),
        ("slow_module", f"tree_scorer regressed by {SLOW_MS:.0f} ms", _same, switch(slow_ms=SLOW_MS)),
        ("tariff_outage", "tariff service down for commercial sites", _same, switch(outage=True)),
    ]
    return [Phase(name, seconds * SHARES[name], text, _labelled(change), enter)
            for name, text, change, enter in plan]
