"""Connection settings from arguments, environment and defaults, the way the Collector names them."""

from __future__ import annotations

import base64
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from modelspan.elasticsearch import clients
from modelspan.elasticsearch.connection import (
    api_key_authorization,
    cloud_urls,
    is_configured,
    resolve_settings,
)

CLOUD_ID = "prod:" + base64.b64encode(b"us-east-1.aws.found.io$es123$kb456").decode()


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_defaults_to_localhost_without_auth() -> None:
    settings = resolve_settings(environ={})
    assert settings.urls == ("http://localhost:9200",)
    assert not settings.configured
    assert "Authorization" not in settings.headers


def test_environment_api_key_wins_over_basic_auth() -> None:
    settings = resolve_settings(environ={"ELASTICSEARCH_URL": "https://es:9243/", "ELASTICSEARCH_API_KEY": "abc==",
                                         "ELASTICSEARCH_USERNAME": "u", "ELASTICSEARCH_PASSWORD": "p"})
    assert settings.urls == ("https://es:9243",)
    assert settings.configured
    assert settings.headers["Authorization"] == "ApiKey abc=="


def test_basic_auth_from_environment_and_from_url() -> None:
    env = resolve_settings(environ={"ELASTICSEARCH_USERNAME": "elastic", "ELASTICSEARCH_PASSWORD": "s3cret"})
    assert env.headers["Authorization"] == _basic("elastic", "s3cret")
    url = resolve_settings("http://elastic:s%40cret@a:9200,b:9201", environ={})
    assert url.urls == ("http://a:9200", "http://b:9201")
    assert url.headers["Authorization"] == _basic("elastic", "s@cret")


def test_arguments_win_over_environment() -> None:
    settings = resolve_settings("http://arg:1", api_key="id:key", environ={"ELASTICSEARCH_URL": "http://env:2"})
    assert settings.urls == ("http://arg:1",)
    assert settings.headers["Authorization"] == "ApiKey " + base64.b64encode(b"id:key").decode()
    # credentials written into an argument URL beat an API key from the environment
    in_url = resolve_settings("http://u:p@arg:1", environ={"ELASTICSEARCH_API_KEY": "abc=="})
    assert in_url.authorization == _basic("u", "p")
    # an argument Cloud ID beats the environment's URL
    assert resolve_settings(cloud_id=CLOUD_ID, environ={"ELASTICSEARCH_URL": "http://env:2"}).urls == (
        "https://es123.us-east-1.aws.found.io:443",)


def test_every_api_key_form_gives_the_same_header() -> None:
    encoded = base64.b64encode(b"VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw").decode()
    forms = ["VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw", encoded, f"  {encoded}\n",
             ("VuaCfGcBCdbkQm-e5aOx", "ui2lp2axTNmsyakw9tvNnw")]
    assert {api_key_authorization(form) for form in forms} == {f"ApiKey {encoded}"}
    with pytest.raises(ValueError, match="empty"):
        api_key_authorization("  ")


def test_user_without_password_sends_an_empty_one_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="modelspan.elasticsearch"):
        settings = resolve_settings(environ={"ELASTICSEARCH_USERNAME": "elastic"})
    assert settings.authorization == _basic("elastic", "")
    assert "no password" in caplog.text
    assert resolve_settings("http://elastic@es:9200", environ={}).authorization == _basic("elastic", "")


def test_password_from_environment_joins_an_argument_user() -> None:
    settings = resolve_settings(username="ops", environ={"ELASTICSEARCH_PASSWORD": "pw"})
    assert settings.authorization == _basic("ops", "pw")


def test_cloud_id_gives_elasticsearch_and_kibana() -> None:
    settings = resolve_settings(environ={"ELASTICSEARCH_CLOUD_ID": CLOUD_ID})
    assert settings.urls == ("https://es123.us-east-1.aws.found.io:443",)
    assert settings.kibana_url == "https://kb456.us-east-1.aws.found.io:443"
    assert settings.configured
    with_port = "x:" + base64.b64encode(b"host.example:9243$es$").decode().rstrip("=")  # padding dropped
    assert cloud_urls(with_port) == ("https://es.host.example:9243", "")
    for bad in ("prod:not-base64!", "nonsense", "x:" + base64.b64encode(b"onlyhost").decode()):
        with pytest.raises(ValueError, match="Cloud ID"):
            cloud_urls(bad)


def test_a_url_wins_over_a_cloud_id_and_a_bad_unused_cloud_id_is_not_read() -> None:
    settings = resolve_settings("http://es:9200", environ={"ELASTICSEARCH_CLOUD_ID": "broken!"})
    assert (settings.urls, settings.kibana_url) == (("http://es:9200",), None)
    with pytest.raises(ValueError, match="Cloud ID"):
        resolve_settings(environ={"ELASTICSEARCH_CLOUD_ID": "broken!"})


def test_kibana_url_from_argument_environment_or_cloud_id() -> None:
    assert resolve_settings(kibana_url="http://u:p@kb:5601/", environ={}).kibana_url == "http://kb:5601"
    assert resolve_settings(environ={"KIBANA_URL": "http://kb:5601"}).kibana_url == "http://kb:5601"
    assert resolve_settings(environ={}).kibana_url is None
    both = {"KIBANA_URL": "http://kb:5601", "ELASTICSEARCH_CLOUD_ID": CLOUD_ID}
    assert resolve_settings(environ=both).kibana_url == "http://kb:5601"


def test_ca_file_must_exist(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    with pytest.raises(ValueError, match="does not exist"):
        resolve_settings(ca_certs=str(ca), environ={})
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    assert resolve_settings(environ={"ELASTICSEARCH_CA_CERTS": str(ca)}).ca_certs == str(ca)


def test_verification_can_be_turned_off(caplog: pytest.LogCaptureFixture) -> None:
    assert resolve_settings(environ={}).verify_certs
    assert not resolve_settings(environ={"ELASTICSEARCH_VERIFY_CERTS": "false"}).verify_certs
    assert not resolve_settings(verify_certs=False, environ={"ELASTICSEARCH_VERIFY_CERTS": "true"}).verify_certs
    with caplog.at_level(logging.WARNING, logger="modelspan.elasticsearch"):
        assert resolve_settings(environ={"ELASTICSEARCH_VERIFY_CERTS": "nope"}).verify_certs  # stays safe
    assert "ELASTICSEARCH_VERIFY_CERTS" in caplog.text


def test_extra_headers_from_argument_or_environment(caplog: pytest.LogCaptureFixture) -> None:
    env = {"ELASTICSEARCH_HEADERS": "X-Opaque-Id=run%201, X-Tenant = blue ,broken"}
    with caplog.at_level(logging.WARNING, logger="modelspan.elasticsearch"):
        settings = resolve_settings(api_key="id:key", environ=env)
    assert settings.headers == {"X-Opaque-Id": "run 1", "X-Tenant": "blue",
                                "Authorization": api_key_authorization("id:key")}
    assert "broken" in caplog.text
    assert resolve_settings(headers={"X-A": "1"}, environ=env).headers == {"X-A": "1"}
    with pytest.raises(ValueError, match="header"):
        resolve_settings(headers={"X-A": "1\r\nEvil: 2"}, environ={})


def test_an_authorization_among_the_headers_is_used_when_no_credentials_are_given() -> None:
    bearer = resolve_settings(headers={"authorization": "Bearer t0ken"}, environ={})
    assert bearer.headers == {"Authorization": "Bearer t0ken"}
    overridden = resolve_settings(headers={"Authorization": "Bearer t0ken"}, api_key="abc==", environ={})
    assert overridden.headers == {"Authorization": "ApiKey abc=="}


def test_bad_url_is_a_clear_error() -> None:
    for bad in ("ftp://es:21", "http://es:port", " , "):
        with pytest.raises(ValueError, match="URL"):
            resolve_settings(bad, environ={})


def test_blank_variables_count_as_unset() -> None:
    settings = resolve_settings(environ={"ELASTICSEARCH_URL": " http://es:9200 ", "ELASTICSEARCH_API_KEY": " ",
                                         "ELASTICSEARCH_USERNAME": "", "ELASTICSEARCH_CA_CERTS": "  "})
    assert (settings.urls, settings.authorization, settings.ca_certs) == (("http://es:9200",), None, None)


def test_is_configured_reads_url_or_cloud_id() -> None:
    assert is_configured({"ELASTICSEARCH_URL": "http://es:9200"})
    assert is_configured({"ELASTICSEARCH_CLOUD_ID": CLOUD_ID})
    assert not is_configured({"ELASTICSEARCH_URL": "  ", "ELASTICSEARCH_API_KEY": "abc=="})


def test_client_and_pool_carry_the_same_settings(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = resolve_settings("https://es:9200", api_key="id:key", ca_certs=str(ca), environ={})
    pool = clients.pool_manager(settings, maxsize=2)
    assert pool.connection_pool_kw["ca_certs"] == str(ca) and pool.connection_pool_kw["cert_reqs"] == "CERT_REQUIRED"
    unverified = clients.pool_manager(resolve_settings("https://es:9200", verify_certs=False, environ={}))
    assert unverified.connection_pool_kw["cert_reqs"] == "CERT_NONE"
    client = clients.client(resolve_settings("http://127.0.0.1:9200", api_key="id:key", environ={}))
    assert client.transport.node_pool.get().base_url == "http://127.0.0.1:9200"
    assert client._headers["Authorization"] == api_key_authorization("id:key")
    client.close()


def test_the_package_imports_without_the_client_library_or_urllib3() -> None:
    script = (
        "import importlib.abc, sys\n"
        "class Blocker(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('elasticsearch', 'elastic_transport', 'urllib3'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Blocker())\n"
        "from modelspan.elasticsearch import connection, layout, templates\n"
        "settings = connection.resolve_settings('http://es:9200', api_key='id:key', environ={})\n"
        "print(settings.headers['Authorization'], layout.SPANS_PATTERN, len(templates.component_templates()))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [*api_key_authorization("id:key").split(), "traces-modelspan.otel-*", "4"]
