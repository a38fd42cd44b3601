"""The incident scenario: real traffic through the instrumented apps, a reference phase then a bad phase.

Reference phase: every route healthy. Analysed phase, at the same time:

* ``/checkout``: 3 in 4 orders make sub-module ``scorer`` of model ``risk`` raise -> HTTP 500;
* ``/cart``: 3 in 4 requests fail before the model is called (the application's own fault);
* ``/recommend`` -> model service: ages shifted by +40 years (the ``recommender`` inputs drift),
  every request succeeds;
* ``/quote`` -> model service ``/price``: 3 in 4 calls make sub-module ``solver`` of model
  ``pricing`` v4 raise *in the other process* -> 500 there, 502 in the shop.

The model findings the analyzer engine would write for that window (an error rate for ``risk`` v1,
drift of ``age`` for ``recommender`` v2) are built here with the ``modelspan.findings`` names.
"""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

import modelspan
from modelspan import findings as F
from modelspan.instrumentation import _config
from modelspan.store import Window
from tests.sdk.analyzer.incidents import apps, spans_table

ROUNDS = 24


@dataclass
class Scenario:
    store_path: Path
    reference: Window
    window: Window
    model_findings: list[dict[str, Any]]


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def _phase(client: httpx.Client, bad: bool) -> None:
    for i in range(ROUNDS):
        broken = bad and i % 4 != 0
        client.post("/checkout", json={"amount": 100.0 + i, "break_model": broken})
        client.post("/cart", json={"amount": 50.0 + i, "break_cart": broken})
        client.post("/recommend", json={"age": 30.0 + (i % 20) + (40.0 if bad else 0.0)})
        client.post("/quote", json={"amount": 10.0 + i, "break_model": broken})


def run(tmp: Path) -> Scenario:
    """Drive both phases; every span is in the SQLite store at ``tmp / 'modelspan.db'`` afterwards."""
    store_path = tmp / "modelspan.db"
    provider = apps.provider_for("shop")
    model_service = apps.ModelServiceProcess(store_path)
    try:
        modelspan.configure(tracer_provider=provider, exporter=spans_table.exporter(store_path))
        with apps.serve_asgi(apps.shop(provider, model_service.url)) as url, \
                httpx.Client(base_url=url, timeout=10) as client:
            start = _now()
            _phase(client, bad=False)
            time.sleep(0.02)
            middle = _now()
            time.sleep(0.02)
            _phase(client, bad=True)
            time.sleep(0.02)
            end = _now()
        model_service.flush()
        modelspan.force_flush()
    finally:
        modelspan.shutdown()
        provider.shutdown()
        model_service.close()
        _config.STATE.baselines.clear()
    window = Window(middle, end)
    return Scenario(store_path, Window(start, middle), window, model_findings(window))


def model_findings(window: Window) -> list[dict[str, Any]]:
    start, end = window.iso()
    common = {F.TIMESTAMP: end, F.WINDOW_START: start, F.WINDOW_END: end, F.FLAGGED: True, F.SEVERITY: "warning"}
    return [
        {**common, F.ID: f"error_rate:risk:1:{start}", F.TYPE: F.TYPE_ERROR_RATE, F.MODEL_NAME: "risk",
         F.MODEL_VERSION: "1", F.METRIC_NAME: "error_rate", F.METRIC_VALUE: 0.75,
         F.SUMMARY: "model risk v1 failed 75% of calls"},
        {**common, F.ID: f"drift:recommender:2:age:{start}", F.TYPE: F.TYPE_DRIFT, F.MODEL_NAME: "recommender",
         F.MODEL_VERSION: "2", F.FEATURE_NAME: "age", F.TEST_NAME: "psi", F.TEST_SCORE: 3.2,
         F.SUMMARY: "feature 'age' drifted"},
        {**common, F.ID: f"latency:risk:1:{start}", F.TYPE: F.TYPE_LATENCY, F.MODEL_NAME: "risk",
         F.MODEL_VERSION: "1", F.FLAGGED: False, F.METRIC_NAME: "p95_ms", F.METRIC_VALUE: 0.4,
         F.SUMMARY: "p95 0.4 ms (a measurement, not a problem)"},
    ]
