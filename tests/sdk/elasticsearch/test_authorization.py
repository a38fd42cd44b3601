"""Every part of modelspan that talks to Elasticsearch sends the same ``Authorization``, byte for byte.

One configuration (the ``ELASTICSEARCH_*`` environment, as a deployment sets it) goes through every
user of ``modelspan.elasticsearch.connection`` against a real loopback server: the exporter, the
analyzer's store, ``record_outcomes``, incident correlation, ``modelspan elastic setup`` and
``teardown`` (Elasticsearch and Kibana), ``configure()``'s choice and the demo's check and refresh.
Six forms of credentials: an ``id:key`` API key, the same key already base64-encoded, user and
password, a user alone, credentials in the URL, and a Cloud ID (over TLS, with a CA file).
"""

from __future__ import annotations

import base64
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult

import modelspan
from modelspan import demo
from modelspan.analyzer.incidents import find_incidents
from modelspan.elastic import SetupError, setup, teardown
from modelspan.elasticsearch import connection
from modelspan.exporters.elasticsearch import ElasticsearchSpanExporter
from modelspan.instrumentation import _exporters
from modelspan.store import Window, open_store
from tests.sdk.elastic.assets_fixture import FixtureAssets
from tests.sdk.elasticsearch.loopback import self_signed, serve

KEY_ID, KEY = "VuaCfGcBCdbkQm-e5aOx", "ui2lp2axTNmsyakw9tvNnw"
ENCODED = base64.b64encode(f"{KEY_ID}:{KEY}".encode()).decode()
USER, PASSWORD = "elastic", "chan@ge:me"
WINDOW = Window.parse("2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z")
CLEARED = (connection.ENV_URL, connection.ENV_CLOUD_ID, connection.ENV_API_KEY, connection.ENV_USERNAME,
           connection.ENV_PASSWORD, connection.ENV_CA_CERTS, connection.ENV_VERIFY_CERTS, connection.ENV_HEADERS,
           connection.ENV_KIBANA_URL, "MODELSPAN_EXPORTER", "OTEL_TRACES_EXPORTER", "MODELSPAN_STORE")


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# form -> (environment given the server's URL, the Authorization every request must carry)
FORMS: dict[str, tuple[Callable[[str], dict[str, str]], str]] = {
    "api key id:key": (lambda url: {"ELASTICSEARCH_URL": url, "ELASTICSEARCH_API_KEY": f"{KEY_ID}:{KEY}"},
                       f"ApiKey {ENCODED}"),
    "api key encoded": (lambda url: {"ELASTICSEARCH_URL": url, "ELASTICSEARCH_API_KEY": ENCODED},
                        f"ApiKey {ENCODED}"),
    "user and password": (lambda url: {"ELASTICSEARCH_URL": url, "ELASTICSEARCH_USERNAME": USER,
                                       "ELASTICSEARCH_PASSWORD": PASSWORD}, _basic(USER, PASSWORD)),
    "user only": (lambda url: {"ELASTICSEARCH_URL": url, "ELASTICSEARCH_USERNAME": USER}, _basic(USER, "")),
    "credentials in the url": (
        lambda url: {"ELASTICSEARCH_URL": url.replace("://", "://elastic:chan%40ge%3Ame@")}, _basic(USER, PASSWORD)),
    "cloud id": (lambda url: {"ELASTICSEARCH_API_KEY": f"{KEY_ID}:{KEY}"}, f"ApiKey {ENCODED}"),
}


def _exporter(tmp: Path) -> None:
    exporter = ElasticsearchSpanExporter(spool_dir=tmp / "spool", dead_letter_path=tmp / "dead.jsonl")
    provider = TracerProvider()
    try:
        with provider.get_tracer("test").start_as_current_span("predict") as span:
            pass
        assert exporter.export([span]) is SpanExportResult.SUCCESS  # type: ignore[list-item]
        assert exporter.force_flush(10_000)
        assert exporter.stats()["stored"] == 1
    finally:
        exporter.shutdown()
        provider.shutdown()


def _store(tmp: Path) -> None:
    with open_store() as store:
        assert store.models(WINDOW) == []
        assert store.record_outcomes([("p-1", "yes")]) == 1


def _outcomes(tmp: Path) -> None:
    assert modelspan.record_outcomes([("p-2", "no")]) == 1  # opens the store from the environment


def _incidents(tmp: Path) -> None:
    with open_store() as store:
        assert find_incidents(store, WINDOW, []) == []


def _setup(tmp: Path) -> None:
    # the empty cluster lacks Elastic's OTel templates: setup stops there, after talking to it
    with pytest.raises(SetupError, match="component template"):
        setup(alerting="none", assets=FixtureAssets())


def _teardown(tmp: Path) -> None:
    teardown(assets=FixtureAssets())  # Elasticsearch and Kibana (saved objects, rules, connectors)


def _demo(tmp: Path) -> None:
    assert demo.elasticsearch_configured()
    assert _exporters.resolve(None).names == ("elasticsearch",)
    with open_store() as store:
        demo._refresh_statistics(store)


USERS: dict[str, Callable[[Path], None]] = {
    "exporter": _exporter, "store": _store, "record_outcomes": _outcomes, "incidents": _incidents,
    "elastic setup": _setup, "elastic teardown": _teardown, "demo": _demo,
}


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def cloud_host(clean_environment: pytest.MonkeyPatch) -> Iterator[None]:
    """``*.localhost`` (a Cloud ID's hosts here) resolves to the loopback server for this test only."""
    real = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    clean_environment.setattr(socket, "getaddrinfo", resolve)
    yield


@pytest.mark.parametrize("form", list(FORMS))
def test_every_user_sends_the_same_authorization(form: str, tmp_path: Path, clean_environment: pytest.MonkeyPatch,
                                                 cloud_host: None) -> None:
    environment, expected = FORMS[form]
    tls = self_signed(tmp_path, "es.localhost", "kb.localhost") if form == "cloud id" else None
    with serve(tls) as server:
        port = server.server_address[1]
        url = f"http://127.0.0.1:{port}"
        for name, value in environment(url).items():
            clean_environment.setenv(name, value)
        if tls is None:
            clean_environment.setenv("KIBANA_URL", url)
        else:
            cloud = base64.b64encode(f"localhost:{port}$es$kb".encode()).decode()
            clean_environment.setenv("ELASTICSEARCH_CLOUD_ID", f"deployment:{cloud}")
            clean_environment.setenv("ELASTICSEARCH_CA_CERTS", str(tls[0]))
        sent: dict[str, set[str | None]] = {}
        for user, run in USERS.items():
            server.seen.clear()
            run(tmp_path)
            assert server.seen, f"{user} sent nothing"
            sent[user] = {seen.authorization for seen in server.seen}
            if user == "elastic teardown":
                kibana = {seen.host.partition(":")[0] for seen in server.seen if seen.path.startswith("/api/")}
                elasticsearch = {seen.host.partition(":")[0] for seen in server.seen
                                 if not seen.path.startswith("/api/")}
    assert sent == {user: {expected} for user in USERS}, form
    hosts = ({"es.localhost"}, {"kb.localhost"}) if tls else ({"127.0.0.1"}, {"127.0.0.1"})
    assert (elasticsearch, kibana) == hosts
