"""Real instrumented HTTP apps on 127.0.0.1 for the incident tests.

* ``shop``: a Starlette app served by uvicorn in a thread, wrapped in the official
  ``opentelemetry.instrumentation.asgi.OpenTelemetryMiddleware``. ``POST /checkout`` scores the
  order with the in-process model ``risk`` v1 (sub-modules ``features`` then ``scorer``; ``scorer``
  raises when asked to, and the route answers 500); ``POST /cart`` fails *before* calling the model
  when asked to; ``POST /recommend`` and ``POST /quote`` call the model service over HTTP with an
  instrumented httpx client, so the W3C ``traceparent`` header carries the trace into the other
  process (``/quote`` answers 502 when the model service fails).
* ``model service`` (``python -m tests.sdk.analyzer.incidents.apps <db>``): a WSGI app on
  ``wsgiref`` in its *own process*, wrapped in ``opentelemetry.instrumentation.wsgi.
  OpenTelemetryMiddleware``, serving model ``recommender`` v2 (sub-modules ``embed``, ``rank``) on
  ``/predict`` and model ``pricing`` v4 (``lookup``, ``solver``; ``solver`` raises when asked to,
  the route answers 500) on ``/price``.

Both processes export every span (server, client, model, module) into the same SQLite store.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware as AsgiMiddleware
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware as WsgiMiddleware
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

import modelspan
from tests.sdk.analyzer.incidents import spans_table


class ModelFailure(RuntimeError):
    """Raised inside a sub-module: the model's own failure."""


def provider_for(service: str) -> TracerProvider:
    return TracerProvider(resource=Resource.create({"service.name": service}))


@modelspan.monitor(model="risk", version="1")
def risk(order: dict[str, Any]) -> float:
    with modelspan.module("features"):
        amount = float(order["amount"])
    with modelspan.module("scorer"):
        if order.get("break_model"):
            raise ModelFailure("scorer weights not loaded")
        return min(1.0, amount / 1000.0)


@modelspan.monitor(model="recommender", version="2")
def recommender(row: dict[str, Any]) -> str:
    with modelspan.module("embed"):
        age = float(row["age"])
    with modelspan.module("rank"):
        return "senior-plan" if age > 60 else "standard-plan"


@modelspan.monitor(model="pricing", version="4")
def pricing(row: dict[str, Any]) -> float:
    with modelspan.module("lookup"):
        base = float(row["amount"])
    with modelspan.module("solver"):
        if row.get("break_model"):
            raise ModelFailure("solver did not converge")
        return base * 1.2


def shop(provider: TracerProvider, model_url: str) -> Any:
    """The ASGI shop app, instrumented."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    client = httpx.AsyncClient(base_url=model_url, timeout=10)
    # on an instance: a staticmethod in 0.48b0, an instance method in 0.49b0/b1, a classmethod after
    HTTPXClientInstrumentor().instrument_client(client, tracer_provider=provider)

    async def checkout(request: Request) -> JSONResponse:
        order = await request.json()
        try:
            return JSONResponse({"risk": risk(order)})
        except ModelFailure as exc:
            return JSONResponse({"error": str(exc)}, status_code=500)

    async def cart(request: Request) -> JSONResponse:
        order = await request.json()
        if order.get("break_cart"):  # e.g. the cart database is down: the model is never called
            return JSONResponse({"error": "cart service unavailable"}, status_code=500)
        return JSONResponse({"risk": risk(order)})

    async def recommend(request: Request) -> JSONResponse:
        response = await client.post("/predict", json=await request.json())
        return JSONResponse(response.json(), status_code=response.status_code)

    async def quote(request: Request) -> JSONResponse:
        response = await client.post("/price", json=await request.json())
        return JSONResponse(response.json(), status_code=502 if response.status_code >= 500 else 200)

    routes = [Route("/checkout", checkout, methods=["POST"]), Route("/cart", cart, methods=["POST"]),
              Route("/recommend", recommend, methods=["POST"]), Route("/quote", quote, methods=["POST"])]
    return AsgiMiddleware(Starlette(routes=routes), tracer_provider=provider)


@contextlib.contextmanager
def serve_asgi(app: Any) -> Iterator[str]:
    """Run ``app`` with uvicorn in a thread on an ephemeral port; yields its URL."""
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", ws="none",
                            http="h11")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def model_service(provider: TracerProvider) -> Callable[..., Any]:
    """The WSGI model service app, instrumented."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        row = json.loads(environ["wsgi.input"].read(length) or b"{}")
        status = "200 OK"
        if environ["PATH_INFO"] == "/flush":
            modelspan.force_flush()
            body: dict[str, Any] = {"flushed": True}
        elif environ["PATH_INFO"] == "/price":
            try:
                body = {"price": pricing(row)}
            except ModelFailure as exc:
                status, body = "500 Internal Server Error", {"error": str(exc)}
        else:
            body = {"plan": recommender(row)}
        start_response(status, [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    return WsgiMiddleware(app, tracer_provider=provider)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


class ModelServiceProcess:
    """The model service in a child process: ``url``, ``flush()``, ``close()``."""

    def __init__(self, store: Path) -> None:
        root = Path(__file__).resolve().parents[4]
        self.process = subprocess.Popen([sys.executable, "-m", __name__, str(store)], cwd=root,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("port "):
            self.close()
            raise RuntimeError(f"model service did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"

    def flush(self) -> None:
        httpx.post(self.url + "/flush", json={}, timeout=10).raise_for_status()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()  # the child shuts down when its stdin closes
        self.process.wait(timeout=15)
        if self.process.stdout is not None:
            self.process.stdout.close()


def _main(store: str) -> None:
    provider = provider_for("model-service")
    modelspan.configure(tracer_provider=provider, exporter=spans_table.exporter(Path(store)))
    server: WSGIServer = make_server("127.0.0.1", 0, model_service(provider), handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    print(f"port {server.server_address[1]}", flush=True)
    sys.stdin.read()
    server.shutdown()
    server.server_close()
    modelspan.shutdown()
    provider.shutdown()


if __name__ == "__main__":
    _main(sys.argv[1])
