"""One run of the real-HTTP scenario per test session, shared by the SQLite and Elasticsearch tests."""

from __future__ import annotations

import pytest

from tests.sdk.analyzer.incidents import scenario


@pytest.fixture(scope="session")
def ran(tmp_path_factory: pytest.TempPathFactory) -> scenario.Scenario:
    return scenario.run(tmp_path_factory.mktemp("incidents"))
