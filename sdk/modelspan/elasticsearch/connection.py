"""How to reach Elasticsearch: every setting, read once, the same way for every part of modelspan.

The exporter, the analyzer's store (and incident correlation through it), ``modelspan elastic
setup``/``teardown``, ``open_store()``, ``configure()`` and the demo all call
:func:`resolve_settings` and send the ``headers`` of the :class:`Settings` it returns, so a given
configuration gives the same ``Authorization`` header, byte for byte, whoever sends it.

Each setting is read from the argument, else the environment variable, else a default:

==========================  ===========================  =====================================
argument                    environment                  meaning
==========================  ===========================  =====================================
``url``                     ``ELASTICSEARCH_URL``        one or more comma-separated endpoints;
                                                         ``user:password@`` credentials allowed
``cloud_id``                ``ELASTICSEARCH_CLOUD_ID``   Elastic Cloud ID; gives the URL (and
                                                         Kibana's) when no URL is given
``api_key``                 ``ELASTICSEARCH_API_KEY``    ``id:key`` (base64-encoded here), the
                                                         ``encoded`` form Elasticsearch returns
                                                         (sent as is) or an ``(id, key)`` pair
``username``, ``password``  ``ELASTICSEARCH_USERNAME``,  basic auth; a user without a password
                            ``ELASTICSEARCH_PASSWORD``   sends an empty password (and logs it)
``ca_certs``                ``ELASTICSEARCH_CA_CERTS``   PEM file of the CA to trust (must exist)
``verify_certs``            ``ELASTICSEARCH_VERIFY_CERTS`` ``false`` turns TLS verification off
``headers``                 ``ELASTICSEARCH_HEADERS``    extra headers (``name=value,...``, values
                                                         percent-decoded, as OTLP's headers)
``kibana_url``              ``KIBANA_URL``               Kibana, for ``modelspan elastic setup``
                                                         (else the Cloud ID's, when it gave the URL)
==========================  ===========================  =====================================

Which credentials win when several are given: an API key, then a user, then credentials in the
URL, then an ``Authorization`` among the extra headers; arguments before the environment at each
step (an argument URL with ``user:password@`` beats an ``ELASTICSEARCH_API_KEY``). Without a URL
or Cloud ID the URL is ``http://localhost:9200`` and ``configured`` is False: the exporter (which
``OTEL_TRACES_EXPORTER=elasticsearch`` builds with no arguments) uses that default, while the
analyzer's store and ``elastic setup`` refuse to guess. A bad argument raises ``ValueError``; a bad
environment value too, except ``ELASTICSEARCH_VERIFY_CERTS`` and ``ELASTICSEARCH_HEADERS`` entries,
which log and fall back (verification stays on).

>>> settings = resolve_settings("https://elastic:secret@es.example:9243", environ={})
>>> settings.urls, settings.headers["Authorization"]
(('https://es.example:9243',), 'Basic ZWxhc3RpYzpzZWNyZXQ=')
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import unquote, urlsplit, urlunsplit

ENV_URL: Final = "ELASTICSEARCH_URL"
ENV_CLOUD_ID: Final = "ELASTICSEARCH_CLOUD_ID"
ENV_API_KEY: Final = "ELASTICSEARCH_API_KEY"
ENV_USERNAME: Final = "ELASTICSEARCH_USERNAME"
ENV_PASSWORD: Final = "ELASTICSEARCH_PASSWORD"
ENV_CA_CERTS: Final = "ELASTICSEARCH_CA_CERTS"
ENV_VERIFY_CERTS: Final = "ELASTICSEARCH_VERIFY_CERTS"
ENV_HEADERS: Final = "ELASTICSEARCH_HEADERS"
ENV_KIBANA_URL: Final = "KIBANA_URL"
DEFAULT_URL: Final = "http://localhost:9200"
AUTHORIZATION: Final = "Authorization"

_log = logging.getLogger("modelspan.elasticsearch")
_FALSE: Final = frozenset({"false", "0", "no", "off"})
_TRUE: Final = frozenset({"true", "1", "yes", "on"})


@dataclass(frozen=True)
class Settings:
    """Where Elasticsearch is and what every request to it (and to Kibana) carries."""

    urls: tuple[str, ...]
    """Endpoints without credentials or a trailing slash; the first is the one single-node users take."""
    authorization: str | None = None
    """The ``Authorization`` header value (``ApiKey ...`` or ``Basic ...``), if any."""
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    ca_certs: str | None = None
    verify_certs: bool = True
    kibana_url: str | None = None
    configured: bool = False
    """Whether a URL or Cloud ID was given (argument or environment), rather than the default URL."""

    @property
    def url(self) -> str:
        return self.urls[0]

    @property
    def headers(self) -> dict[str, str]:
        """The headers every request carries: the extra headers, then ``Authorization``."""
        headers = dict(self.extra_headers)
        if self.authorization:
            headers[AUTHORIZATION] = self.authorization
        return headers


def is_configured(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the environment names an Elasticsearch (``ELASTICSEARCH_URL`` or ``ELASTICSEARCH_CLOUD_ID``).

    ``configure()``, ``open_store()`` and the demo use it to choose Elasticsearch over SQLite.

    >>> is_configured({"ELASTICSEARCH_URL": "http://es:9200"}), is_configured({})
    (True, False)
    """
    env = os.environ if environ is None else environ
    return bool(env.get(ENV_URL, "").strip() or env.get(ENV_CLOUD_ID, "").strip())


def resolve_settings(
    url: str | None = None,
    *,
    api_key: str | tuple[str, str] | None = None,
    username: str | None = None,
    password: str | None = None,
    cloud_id: str | None = None,
    ca_certs: str | None = None,
    verify_certs: bool | None = None,
    headers: Mapping[str, str] | None = None,
    kibana_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Settings from arguments, else environment, else defaults (see the module docstring)."""
    env = os.environ if environ is None else environ
    raw_url, cloud_kibana = _url_or_cloud(url, cloud_id, env.get(ENV_URL), env.get(ENV_CLOUD_ID))
    urls, url_credentials = _split_urls(raw_url or DEFAULT_URL)
    extra = _extra_headers(headers, env)
    header_auth = next((extra.pop(k) for k in list(extra) if k.lower() == AUTHORIZATION.lower()), None)
    given = _Credentials(api_key, username, _first(password, env.get(ENV_PASSWORD)), url_credentials if url else None)
    from_env = _Credentials(_env(env, ENV_API_KEY), _env(env, ENV_USERNAME), _first(password, env.get(ENV_PASSWORD)),
                            None if url else url_credentials)
    authorization = given.authorization() or from_env.authorization() or header_auth
    ca = _first(ca_certs, _env(env, ENV_CA_CERTS))
    if ca and not os.path.isfile(ca):
        raise ValueError(f"modelspan: CA certificate file {ca!r} does not exist")
    return Settings(urls, authorization, extra, ca or None, _verify(verify_certs, env),
                    _kibana_url(_first(kibana_url, _env(env, ENV_KIBANA_URL), cloud_kibana)), configured=bool(raw_url))


def api_key_authorization(api_key: str | tuple[str, str]) -> str:
    """The ``Authorization`` value of an API key: ``id:key`` and ``(id, key)`` are base64-encoded
    (as Elasticsearch's ``encoded`` field is); an already encoded key (base64 has no ``:``) is sent as is.

    >>> api_key_authorization("id:key") == api_key_authorization(("id", "key")) == api_key_authorization("aWQ6a2V5")
    True
    """
    if isinstance(api_key, tuple):
        api_key = ":".join(api_key)
    key = api_key.strip()
    if not key:
        raise ValueError("modelspan: the Elasticsearch API key is empty")
    if ":" in key:
        key = base64.b64encode(key.encode()).decode()
    return f"ApiKey {key}"


def basic_authorization(username: str, password: str | None) -> str:
    """The ``Authorization`` value of basic auth; a missing password is sent empty (and logged).

    >>> basic_authorization("elastic", "changeme")
    'Basic ZWxhc3RpYzpjaGFuZ2VtZQ=='
    """
    if password is None:
        _log.warning("modelspan: Elasticsearch user %r has no password (set %s); sending an empty one",
                     username, ENV_PASSWORD)
    token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
    return f"Basic {token}"


def cloud_urls(cloud_id: str) -> tuple[str, str]:
    """Elasticsearch and Kibana URLs of an Elastic Cloud deployment (``name:base64(host$es$kibana)``).

    Kibana's is ``""`` when the Cloud ID names none. A malformed Cloud ID raises ``ValueError``.

    >>> cloud_urls("demo:" + base64.b64encode(b"eu-west-1.aws.found.io:443$es123$kb456").decode())
    ('https://es123.eu-west-1.aws.found.io:443', 'https://kb456.eu-west-1.aws.found.io:443')
    """
    _, _, encoded = cloud_id.strip().rpartition(":")
    try:
        decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(f"modelspan: malformed Elastic Cloud ID {cloud_id!r}") from exc
    host, es_id, kibana_id = [*decoded.split("$"), "", ""][:3]
    if not host or not es_id:
        raise ValueError(f"modelspan: malformed Elastic Cloud ID {cloud_id!r}")
    host, _, port = host.partition(":")
    suffix = f"{host}:{port or 443}"
    return f"https://{es_id}.{suffix}", f"https://{kibana_id}.{suffix}" if kibana_id else ""


@dataclass(frozen=True)
class _Credentials:
    """Credentials from one source (the arguments, or the environment), in the order they win."""

    api_key: str | tuple[str, str] | None
    username: str | None
    password: str | None
    in_url: tuple[str, str | None] | None

    def authorization(self) -> str | None:
        if self.api_key:
            return api_key_authorization(self.api_key)
        if self.username:
            return basic_authorization(self.username, self.password)
        if self.in_url:
            return basic_authorization(*self.in_url)
        return None


def _env(env: Mapping[str, str], name: str) -> str | None:
    """An environment variable's value without surrounding blanks; a blank one counts as unset."""
    return env.get(name, "").strip() or None


def _first(*values: Any) -> Any:
    """The first value that is set (neither None nor empty), else None."""
    return next((value for value in values if value is not None and value != ""), None)


def _url_or_cloud(url: str | None, cloud_id: str | None, env_url: str | None,
                  env_cloud_id: str | None) -> tuple[str | None, str | None]:
    """The URL argument, else the argument Cloud ID's, else the environment's URL, else its Cloud ID's;
    with the Kibana URL of the Cloud ID used, if one was (a Cloud ID not used is not read)."""
    for plain, cloud in ((url, cloud_id), (env_url, env_cloud_id)):
        if plain and plain.strip():
            return plain.strip(), None
        if cloud and cloud.strip():
            elasticsearch, kibana = cloud_urls(cloud)
            return elasticsearch, kibana or None
    return None, None


def _split_urls(raw: str) -> tuple[tuple[str, ...], tuple[str, str | None] | None]:
    """Comma-separated URLs without credentials, and the first credentials found in them."""
    urls: list[str] = []
    credentials: tuple[str, str | None] | None = None
    for part in raw.split(","):
        clean, found = _split_url(part.strip())
        if clean:
            urls.append(clean)
            credentials = credentials or found
    if not urls:
        raise ValueError(f"modelspan: no Elasticsearch URL in {raw!r}")
    return tuple(urls), credentials


def _split_url(url: str) -> tuple[str, tuple[str, str | None] | None]:
    """``https://user:pw@host:9200/`` -> ``("https://host:9200", ("user", "pw"))``."""
    if not url:
        return "", None
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"modelspan: Elasticsearch URL {url!r} has a bad port") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"modelspan: Elasticsearch URL {url!r} is not http(s)://host[:port]")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname  # IPv6 literal
    netloc = host + (f":{port}" if port else "")
    credentials = None
    if parts.username:
        credentials = (unquote(parts.username), None if parts.password is None else unquote(parts.password))
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", "")), credentials


def _verify(argument: bool | None, env: Mapping[str, str]) -> bool:
    if argument is not None:
        return bool(argument)
    raw = env.get(ENV_VERIFY_CERTS, "").strip().lower()
    if not raw or raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    _log.warning("modelspan: ignoring %s=%r (not true or false); TLS certificates are verified", ENV_VERIFY_CERTS, raw)
    return True


def _extra_headers(argument: Mapping[str, str] | None, env: Mapping[str, str]) -> dict[str, str]:
    if argument is not None:
        for name, value in argument.items():
            if not name or any(c in name + value for c in "\r\n"):
                raise ValueError(f"modelspan: bad Elasticsearch header {name!r}")
        return dict(argument)
    headers: dict[str, str] = {}
    for entry in env.get(ENV_HEADERS, "").split(","):
        if not entry.strip():
            continue
        name, sep, value = entry.partition("=")
        if not sep or not name.strip() or any(c in entry for c in "\r\n"):
            _log.warning("modelspan: ignoring %s entry %r (expected name=value)", ENV_HEADERS, entry.strip())
            continue
        headers[unquote(name.strip())] = unquote(value.strip())
    return headers


def _kibana_url(raw: str | None) -> str | None:
    if not raw:
        return None
    clean, _ = _split_url(raw.strip())  # Kibana gets Elasticsearch's credentials; userinfo is not sent as such
    return clean
