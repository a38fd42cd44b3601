"""Where spans, outcomes and findings are kept: the embedded SQLite store or Elasticsearch.

Everything above the store talks to it through the ``Store`` protocol (``modelspan.store.protocol``)
and the backend-neutral types of ``modelspan.store.types`` (``Window``, ``Question``, ``ModelStats``, ...) and
``modelspan.store.traces``; ``open_store()`` is the one way to get a store (see ``docs/store.md``).

``open_store()`` picks the backend the way the exporter does (contract 2): an ``http(s)://`` URL,
or no target while ``ELASTICSEARCH_URL``/``ELASTICSEARCH_CLOUD_ID`` is set, opens an
``ElasticsearchStore``; anything else is the path of a ``SQLiteStore`` (default ``MODELSPAN_STORE``
or ``./modelspan.db``). Backends are imported on use, so this package stays light.

>>> from modelspan.store import Store, Window, open_store
>>> Window.parse("2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z").seconds
3600.0
"""

from __future__ import annotations

import os

from modelspan.elasticsearch.connection import is_configured
from modelspan.store.protocol import Store
from modelspan.store.types import (
    ClassScoreSums,
    Column,
    ColumnStats,
    Interval,
    LabelledPrediction,
    LossSums,
    ModelStats,
    Operations,
    PathStats,
    Question,
    ScoreSums,
    StoreError,
    Window,
)


def open_store(target: str | os.PathLike[str] | None = None, *, read_only: bool = False,
               create: bool = True) -> Store:
    """The store at ``target``: ``ElasticsearchStore`` for a URL, else ``SQLiteStore``; the caller closes it.

    ``read_only`` (the read commands: ``analyze --no-write``, ``report``, ``incidents --no-write``)
    opens an existing SQLite file without any write: a missing path is an error naming it, nothing
    is created, migrated or switched to WAL (``modelspan.sqlite.StoreFileError``). ``create=False``
    refuses a missing SQLite file instead of creating an empty store (``analyze``, ``incidents``).

    >>> import tempfile, pathlib
    >>> store = open_store(pathlib.Path(tempfile.mkdtemp()) / "m.db")
    >>> type(store).__name__, isinstance(store, Store)
    ('SQLiteStore', True)
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

    return SQLiteStore(text, read_only=read_only, create=create)


__all__ = [
    "ClassScoreSums",
    "Column",
    "ColumnStats",
    "Interval",
    "LabelledPrediction",
    "LossSums",
    "ModelStats",
    "Operations",
    "PathStats",
    "Question",
    "ScoreSums",
    "Store",
    "StoreError",
    "Window",
    "open_store",
]
