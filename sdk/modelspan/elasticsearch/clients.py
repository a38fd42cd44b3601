"""HTTP clients on one set of connection settings: a urllib3 pool, an elasticsearch-py client.

Kept apart from ``connection`` so that reading the settings (which ``configure()`` does to ask
"is Elasticsearch configured?") never reaches for urllib3 or the ``elasticsearch`` extra; only a
part of modelspan that really talks to Elasticsearch imports this module.

>>> from modelspan.elasticsearch.connection import resolve_settings
>>> pool_manager(resolve_settings("http://127.0.0.1:9200")).connection_pool_kw["retries"]
False
"""

from __future__ import annotations

from typing import Any

import urllib3

from modelspan.elasticsearch.connection import Settings


def pool_manager(settings: Settings, **options: Any) -> urllib3.PoolManager:
    """A ``urllib3`` pool that verifies TLS as configured (the lean senders: exporter, setup).

    ``options`` go to ``PoolManager`` (``maxsize``...); urllib3's own retries are off.
    """
    kwargs: dict[str, Any] = {"retries": False, **options}
    if not settings.verify_certs:
        kwargs["cert_reqs"] = "CERT_NONE"
    elif settings.ca_certs:
        kwargs.update(cert_reqs="CERT_REQUIRED", ca_certs=settings.ca_certs)
    return urllib3.PoolManager(**kwargs)


def client(settings: Settings, **options: Any) -> Any:
    """An ``elasticsearch.Elasticsearch`` client on ``settings`` (needs ``modelspan[elasticsearch]``).

    ``options`` go to the client as is (``request_timeout``, ``max_retries``, ...).
    """
    from elasticsearch import Elasticsearch  # the extra is needed only when a client is wanted

    kwargs: dict[str, Any] = {}
    if settings.headers:
        kwargs["headers"] = settings.headers
    if settings.ca_certs:
        kwargs["ca_certs"] = settings.ca_certs
    if not settings.verify_certs:
        kwargs["verify_certs"] = False
    kwargs.update(options)
    return Elasticsearch(list(settings.urls), **kwargs)
