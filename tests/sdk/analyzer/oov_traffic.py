"""Text traffic with a planted out-of-vocabulary rise, served by a real decorated model (test helper).

Model ``notes`` (one text feature ``note``, a baseline with its vocabulary) serves ``REFERENCE`` with
in-vocabulary notes and ``WINDOW`` with notes where new words come in (or, ``rise=False``, the same
words as before). One call in five is a batch of 4 notes, so both the single-row and the batch rules
count. The clock is a stand-in for ``time.time_ns``: calls are spread over the hours, so every run sees
identical traffic whatever its span sample rate. ``expected`` counts the tokens and the new ones of
the served notes directly from the words planted (every note has 3 words).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from opentelemetry.sdk.trace import TracerProvider

import modelspan
from modelspan.instrumentation import _config
from tests.sdk.analyzer.planted import REFERENCE, WINDOW

MODEL = "notes"
KNOWN = ["refund", "late", "broken", "thanks"]
NEW = ["chargeback", "fraud", "stolen", "lawyer"]
CALLS = 400
"""Calls per hour (one in five a batch of ``BATCH`` notes)."""
BATCH = 4
WORDS = 3


@dataclass
class Served:
    """What an hour's traffic holds: notes, tokens, new tokens and the span path's OOV rate."""

    notes: int
    tokens: int
    oov_tokens: int
    rate: float


def baseline() -> modelspan.Baseline:
    rng = np.random.default_rng(3)
    notes = [" ".join(rng.choice(KNOWN, WORDS)) for _ in range(400)]
    made = modelspan.Baseline.from_data({"note": notes}, model=MODEL, version="1", text=["note"])
    assert sorted(made.features["note"].vocabulary) == sorted(KNOWN)
    return made


def _calls(rng: np.random.Generator, words: list[str]) -> list[list[str]]:
    """The notes of each call (one note for a single row, ``BATCH`` for a batch)."""
    return [[" ".join(rng.choice(words, WORDS)) for _ in range(BATCH if i % 5 == 4 else 1)] for i in range(CALLS)]


def expected(calls: list[list[str]]) -> Served:
    """The hour's counts from the planted words; the rate weighted as the span answers weight it
    (a single row's own rate, a batch's token rate times its notes)."""
    notes = tokens = oov = 0
    weighted = 0.0
    for call in calls:
        new = [sum(word in NEW for word in note.split()) for note in call]
        notes += len(call)
        tokens += WORDS * len(call)
        oov += sum(new)
        weighted += new[0] / WORDS if len(call) == 1 else sum(new) / (WORDS * len(call)) * len(call)
    return Served(notes, tokens, oov, weighted / notes)


class Clock:
    """``time.time_ns`` for the run: set by the traffic; every reading a microsecond later."""

    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        self.now += 1_000
        return self.now


def _predict(made: modelspan.Baseline) -> Any:
    @modelspan.monitor(model=MODEL, version="1", baseline=made, task="regression")
    def predict(rows: Any) -> Any:
        if isinstance(rows, list):
            return [float(len(row["note"])) for row in rows]
        return float(len(rows["note"]))

    return predict


def serve(exporter: Any, sample_rate: float, made: modelspan.Baseline, monkeypatch: pytest.MonkeyPatch,
          rise: bool = True) -> tuple[Served, Served]:
    """Serve the reference hour and the analysed hour into ``exporter`` ("sqlite" + store path, or an
    exporter object); returns what each hour served."""
    rng = np.random.default_rng(11)
    before, after = _calls(rng, KNOWN), _calls(rng, KNOWN + NEW * 3 if rise else KNOWN)
    provider = TracerProvider()
    clock = Clock()
    if isinstance(exporter, tuple):
        modelspan.configure(tracer_provider=provider, exporter=exporter[0], store=exporter[1],
                            sample_rate=sample_rate)
    else:
        modelspan.configure(tracer_provider=provider, exporter=exporter, sample_rate=sample_rate)
    try:
        with _clocked(monkeypatch, clock):
            predict = _predict(made)
            for window, calls in ((REFERENCE, before), (WINDOW, after)):
                start, gap = int(window.start.timestamp() * 1e9), 3600 * 10**9 // CALLS
                for i, call in enumerate(calls):
                    clock.now = start + i * gap
                    predict([{"note": note} for note in call] if len(call) > 1 else {"note": call[0]})
    finally:
        modelspan.shutdown()
        provider.shutdown()
        _config.STATE.baselines.clear()
    return expected(before), expected(after)


@contextlib.contextmanager
def _clocked(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> Iterator[None]:
    with monkeypatch.context() as patch:
        patch.setattr(time, "time_ns", clock)
        yield
