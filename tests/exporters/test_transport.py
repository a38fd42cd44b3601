"""Connection settings from arguments and environment, the way the Collector names them."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from modelspan.exporters._transport import Transport, TransportError, cloud_id_url, resolve_settings


def test_defaults_to_localhost_without_auth() -> None:
    settings = resolve_settings(environ={})
    assert settings.urls == ("http://localhost:9200",)
    assert "Authorization" not in settings.headers


def test_environment_api_key_wins_over_basic_auth() -> None:
    settings = resolve_settings(environ={"ELASTICSEARCH_URL": "https://es:9243/", "ELASTICSEARCH_API_KEY": "abc==",
                                         "ELASTICSEARCH_USERNAME": "u", "ELASTICSEARCH_PASSWORD": "p"})
    assert settings.urls == ("https://es:9243",)
    assert settings.headers["Authorization"] == "ApiKey abc=="


def test_basic_auth_from_environment_and_from_url() -> None:
    env = resolve_settings(environ={"ELASTICSEARCH_USERNAME": "elastic", "ELASTICSEARCH_PASSWORD": "s3cret"})
    assert env.headers["Authorization"] == "Basic " + base64.b64encode(b"elastic:s3cret").decode()
    url = resolve_settings("http://elastic:s%40cret@a:9200,b:9201", environ={})
    assert url.urls == ("http://a:9200", "http://b:9201")
    assert url.headers["Authorization"] == "Basic " + base64.b64encode(b"elastic:s@cret").decode()


def test_arguments_win_over_environment() -> None:
    settings = resolve_settings("http://arg:1", api_key="id:key", environ={"ELASTICSEARCH_URL": "http://env:2"})
    assert settings.urls == ("http://arg:1",)
    assert settings.headers["Authorization"] == "ApiKey " + base64.b64encode(b"id:key").decode()


def test_cloud_id_is_used_when_no_url_is_given() -> None:
    cloud_id = "prod:" + base64.b64encode(b"us-east-1.aws.found.io$es123$kb456").decode()
    settings = resolve_settings(environ={"ELASTICSEARCH_CLOUD_ID": cloud_id})
    assert settings.urls == ("https://es123.us-east-1.aws.found.io:443",)
    with pytest.raises(ValueError, match="Cloud ID"):
        cloud_id_url("prod:not-base64!")


def test_ca_file_must_exist(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    with pytest.raises(ValueError, match="does not exist"):
        resolve_settings(ca_certs=str(ca), environ={})
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    assert resolve_settings(environ={"ELASTICSEARCH_CA_CERTS": str(ca)}).ca_certs == str(ca)


def test_bad_url_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="not http"):
        resolve_settings("ftp://es:21", environ={})


def test_refused_connection_is_flagged() -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = Transport(resolve_settings(f"http://127.0.0.1:{port}", environ={}))
    with pytest.raises(TransportError) as caught:
        transport.bulk(b"{}\n", timeout=1.0)
    assert caught.value.refused
    transport.close()
