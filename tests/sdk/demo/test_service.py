"""The demo service: real HTTP on loopback, model spans nested under the ASGI server spans."""

from __future__ import annotations

import io

import httpx

from modelspan import semconv
from modelspan.demo import _model, _traffic
from modelspan.demo._service import Service
from tests.sdk.conftest import Spans


def _row(**change: object) -> dict[str, object]:
    row: dict[str, object] = {"temperature": 21.0, "humidity": 50.0, "wind_kmh": 10.0, "segment": "commercial",
                              "device": "gateway"}
    row.update(change)
    return row


def test_predict_answers_and_model_spans_nest_under_server_spans(spans: Spans) -> None:
    model, _, _ = _model.train(rows=800)
    with Service(model, tracer_provider=spans.provider) as service:
        ok = httpx.post(service.url + "/predict", json=_row())
        unknown = httpx.post(service.url + "/predict", json=_row(device="heat_pump"))
        model.faults.tariff_outage = True
        outage = httpx.post(service.url + "/predict", json=_row())
        residential = httpx.post(service.url + "/predict", json=_row(segment="residential"))
        bad = httpx.post(service.url + "/predict", content=b"[1, 2")
    assert ok.status_code == 200 and ok.json()["demand"] in _model.LABELS
    assert unknown.status_code == 500 and "heat_pump" in unknown.json()["error"]
    assert outage.status_code == 503
    assert residential.status_code == 200  # the outage hits commercial sites only
    assert bad.status_code == 400
    finished = spans.all()
    by_id = {s.context.span_id: s for s in finished}
    servers = [s for s in finished if s.kind.name == "SERVER"]
    assert len(servers) == 5
    assert all((s.attributes or {}).get("http.route") == "/predict" for s in servers)
    models = spans.models()
    assert len(models) == 4  # the malformed body never reached the model
    for span in models:
        assert span.parent is not None and by_id[span.parent.span_id].kind.name == "SERVER"
    ids = {(s.attributes or {}).get(semconv.PREDICTION_ID) for s in models}
    assert ok.json()["prediction_id"] in ids
    paths = {(s.attributes or {}).get(semconv.MODULE_PATH_KEY) for s in models}
    assert paths == {"preprocess>linear_scorer>calibrate", "preprocess>tree_scorer>calibrate"}
    failed = {s.status.status_code.name for s in servers if (s.attributes or {}).get("http.status_code", 0) >= 500}
    assert failed == {"ERROR"}


def test_traffic_is_rate_controlled_and_phases_do_not_overlap(spans: Spans) -> None:
    model, _, _ = _model.train(rows=800)

    def make(rng: object, n: int) -> list[tuple[dict[str, object], str]]:
        return [(_row(), "normal")] * n

    def slow() -> None:
        model.faults.slow_module_ms = 5.0

    phases = [_traffic.Phase("a", 0.5, "first", make), _traffic.Phase("b", 0.5, "second", make, slow)]
    stream = io.StringIO()
    with Service(model, tracer_provider=spans.provider) as service:
        traffic = _traffic.drive(service.url, phases, rate=40.0, progress=_traffic.Progress(1.0, stream=stream))
    assert traffic.count("a") == 20 and traffic.count("b") == 20
    assert traffic.count("a", ok=False) == 0
    assert all(s.prediction_id for s in traffic.sent)
    first, second = phases
    assert first.start and first.end and second.start and second.end
    assert first.start < first.end <= second.start < second.end
    lines = stream.getvalue().splitlines()  # not a terminal: one line per phase, no carriage returns
    assert len(lines) == 2 and "\r" not in stream.getvalue()
    assert lines[0].startswith("[") and " 50%  a " in lines[0] and "20 requests" in lines[0]
    assert " 100%  b " in lines[1] and "40 requests" in lines[1]
