"""The demo's model service: a real HTTP app on 127.0.0.1 (Starlette + uvicorn in a thread).

The official OpenTelemetry ASGI middleware makes one server span per request, and the monitored
model's span (with its module spans) nests under it, so an application error and the model call
that preceded it share a trace, which is what the incident correlator follows.

``POST /predict`` takes one site as JSON and answers ``{"prediction_id", "demand", "tariff"}``;
after the model it looks the device's tariff up, which is where the application fails: a device
the tariff table does not know (500) or a tariff-service outage for commercial sites (503).
"""

from __future__ import annotations

import inspect
import threading
import time
from typing import Any

import uvicorn
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.semconv.attributes.http_attributes import HTTP_ROUTE
from opentelemetry.trace import Span
from opentelemetry.util.http import parse_excluded_urls
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import modelspan
from modelspan.demo._model import DemandModel

TARIFFS = {"thermostat": 0.21, "smart_meter": 0.18, "gateway": 0.25}
"""Price per kWh by device type: the app's own lookup after the model answered."""

# The middleware's per-message send/receive spans are noise here; `exclude_spans` exists from
# opentelemetry-instrumentation-asgi 0.49b0 and the demo extra allows 0.48b0 (same API as core 1.27).
_QUIET: dict[str, Any] = (
    {"exclude_spans": ["receive", "send"]}
    if "exclude_spans" in inspect.signature(OpenTelemetryMiddleware).parameters else {}
)


def build_app(model: DemandModel, tracer_provider: Any = None) -> OpenTelemetryMiddleware:
    """The ASGI app, wrapped in OpenTelemetry's middleware (server spans, ``http.route``)."""

    async def predict(request: Request) -> JSONResponse:
        try:
            row = await request.json()
        except ValueError:
            return JSONResponse({"error": "body must be a JSON object"}, status_code=400)
        if not isinstance(row, dict):
            return JSONResponse({"error": "body must be a JSON object"}, status_code=400)
        # run_in_threadpool copies the request's context, so the model span joins the server span
        demand, prediction = await run_in_threadpool(_predict, model, row)
        tariff = TARIFFS.get(str(row.get("device")))
        if tariff is None:
            return JSONResponse({"error": f"no tariff for device {row.get('device')!r}"}, status_code=500)
        if model.faults.tariff_outage and row.get("segment") == "commercial":
            return JSONResponse({"error": "tariff service unavailable"}, status_code=503)
        return JSONResponse({"prediction_id": prediction, "demand": demand, "tariff": tariff})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    routes = [Route("/predict", predict, methods=["POST"]), Route("/healthz", health)]
    known = {route.path for route in routes}

    def name_route(span: Span, scope: dict[str, Any]) -> None:
        # the raw ASGI middleware cannot see Starlette's router; our routes have no parameters
        if span.is_recording() and scope.get("path") in known:
            span.set_attribute(HTTP_ROUTE, scope["path"])

    return OpenTelemetryMiddleware(Starlette(routes=routes), excluded_urls=parse_excluded_urls("healthz"),
                                   server_request_hook=name_route, tracer_provider=tracer_provider, **_QUIET)



def _predict(model: DemandModel, row: dict[str, Any]) -> tuple[str, str | None]:
    demand = model.predict(row)
    prediction = modelspan.last_prediction()
    return demand, prediction.id if prediction is not None else None


class Service:
    """uvicorn serving the app in a daemon thread on an ephemeral loopback port.

    >>> with Service(DemandModel()) as service:  # doctest: +SKIP
    ...     service.url
    'http://127.0.0.1:40123'
    """

    def __init__(self, model: DemandModel, host: str = "127.0.0.1", tracer_provider: Any = None) -> None:
        config = uvicorn.Config(build_app(model, tracer_provider), host=host, port=0, log_level="warning",
                                # HTTP only: uvicorn before 0.50 imports websockets.legacy, which warns
                                access_log=False, lifespan="off", ws="none")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="modelspan-demo-service", daemon=True)
        self.url = ""

    def start(self, timeout: float = 10.0) -> Service:
        """Start serving; returns once the socket listens (``url`` is then set)."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the demo service did not start")
            time.sleep(0.02)
        host, port = self._server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to exit and wait for the thread (idempotent)."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
