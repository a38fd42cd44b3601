"""Where spans, outcomes and findings are kept: the embedded SQLite store or Elasticsearch.

``open_store()`` picks the backend the way the exporter does (contract 2): an ``http(s)://`` URL,
or no target while ``ELASTICSEARCH_URL``/``ELASTICSEARCH_CLOUD_ID`` is set, opens an
``ElasticsearchStore``; anything else is the path of a ``SQLiteStore`` (default ``MODELSPAN_STORE``
or ``./modelspan.db``). Backends are imported on use, so this package stays light.
"""

from __future__ import annotations

import os
from typing import Any

from modelspan.elasticsearch.connection import is_configured


def open_store(target: str | os.PathLike[str] | None = None) -> Any:
    """The store at ``target``: ``ElasticsearchStore`` for a URL, else ``SQLiteStore``.

    >>> import tempfile, pathlib
    >>> store = open_store(pathlib.Path(tempfile.mkdtemp()) / "m.db")
    >>> type(store).__name__
    'SQLiteStore'
    >>> store.close()
    """
    text = os.fspath(target) if target is not None else None
    if isinstance(text, str) and text.lower().startswith(("http://", "https://")):
        from modelspan.store.elasticsearch import ElasticsearchStore

        return ElasticsearchStore(text)
    if text is None and is_configured():
        from modelspan.store.elasticsearch import ElasticsearchStore

        return ElasticsearchStore()
    from modelspan.store.sqlite import SQLiteStore

    return SQLiteStore(text)


__all__ = ["open_store"]
