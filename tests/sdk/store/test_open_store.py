"""open_store(): Elasticsearch for URLs (or ELASTICSEARCH_URL with no target), SQLite otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelspan.store import open_store
from modelspan.store.elasticsearch import ElasticsearchStore
from modelspan.store.sqlite import SQLiteStore
from tests.store.elasticsearch.fake_es import FakeElasticsearch


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ELASTICSEARCH_URL", "ELASTICSEARCH_CLOUD_ID", "MODELSPAN_STORE"):
        monkeypatch.delenv(name, raising=False)


def _asks(store: ElasticsearchStore, es: FakeElasticsearch) -> None:
    """The store's requests reach the server at ``es.url`` (and only then count)."""
    before = len(es.requests)
    assert store.get_checkpoint("open-store-test") is None
    assert len(es.requests) > before


def test_urls_open_elasticsearch_at_that_url() -> None:
    with FakeElasticsearch() as es:
        for url in (es.url, es.url.replace("http://", "HTTP://")):
            store = open_store(url)
            assert isinstance(store, ElasticsearchStore)
            _asks(store, es)
            store.close()


def test_environment_elasticsearch_only_without_a_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeElasticsearch() as es:
        monkeypatch.setenv("ELASTICSEARCH_URL", es.url)
        store = open_store()
        assert isinstance(store, ElasticsearchStore)
        _asks(store, es)
        store.close()
    with open_store(tmp_path / "explicit.db") as local:
        assert isinstance(local, SQLiteStore) and local.path == tmp_path / "explicit.db"


def test_paths_and_default_open_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with open_store() as default:
        assert isinstance(default, SQLiteStore) and default.path == Path("modelspan.db")
    monkeypatch.setenv("MODELSPAN_STORE", str(tmp_path / "env.db"))
    with open_store() as from_env:
        assert from_env.path == tmp_path / "env.db"
    with open_store(str(tmp_path / "s.db")) as from_string:
        assert from_string.path == tmp_path / "s.db"
