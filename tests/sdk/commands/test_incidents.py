"""``modelspan incidents`` against a store holding the real-HTTP scenario's spans and model findings."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import closing

import pytest

from modelspan import cli
from modelspan import findings as F
from modelspan.exporters._document import index_for
from tests.sdk.analyzer.incidents import scenario
from tests.store.elasticsearch.fake_es import FakeElasticsearch


@pytest.fixture()
def fake(ran: scenario.Scenario) -> Iterator[FakeElasticsearch]:
    """Elasticsearch (the loopback fake) holding the spans and the analyzer's model findings."""
    with closing(sqlite3.connect(ran.store_path)) as connection:
        documents = [json.loads(row[0]) for row in connection.execute("SELECT document FROM spans")]
    with FakeElasticsearch() as server:
        for document in documents:
            server.add(index_for(document), [document])
        server.add(F.FINDINGS_INDEX, [{**d, "_id": d[F.ID]} for d in ran.model_findings])
        yield server


def _args(ran: scenario.Scenario, fake: FakeElasticsearch, *extra: str) -> list[str]:
    since, until = ran.window.iso()
    reference = "/".join(ran.reference.iso())
    return ["incidents", "--store", fake.url, "--since", since, "--until", until, "--reference", reference, *extra]


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> scenario.Scenario:
    return scenario.run(tmp_path_factory.mktemp("incidents-cli"))


def test_json_lists_the_three_kinds_and_writes_them_back(ran: scenario.Scenario, fake: FakeElasticsearch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(_args(ran, fake, "--format", "json")) == 0
    documents = json.loads(capsys.readouterr().out)["findings"]
    kinds = Counter(d.get(F.INCIDENT_KIND) for d in documents if d[F.TYPE] == F.TYPE_INCIDENT
                    and not str(d[F.ID]).startswith(f"incident:{F.TYPE_APP_LATENCY}:"))  # a busy machine's
    assert kinds == {"correlated": 3, "application_only": 1, "model_only": 1}  # /checkout, /quote, /price
    (correlated,) = [d for d in documents if d[F.ID].startswith(f"incident:{F.TYPE_APP_ERRORS}:shop:POST /checkout:")]
    assert correlated[F.MODULE_NAME] == "scorer" and correlated[F.INCIDENT_MODEL_FINDINGS] == [
        ran.model_findings[0][F.ID]]
    stored = {d[F.ID] for d, _ in fake.indices[F.FINDINGS_INDEX]}
    assert {d[F.ID] for d in documents} <= stored


def test_table_and_no_write(ran: scenario.Scenario, fake: FakeElasticsearch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(_args(ran, fake, "--no-write")) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].endswith(f"incidents between {ran.window.iso()[0]} and {ran.window.iso()[1]}")
    assert lines[1].split() == ["SEVERITY", "KIND", "SHARE", "WHERE", "MODEL", "MODULE", "FROM"]
    (checkout,) = [i for i, line in enumerate(lines) if line.split()[3:6] == ["shop", "POST", "/checkout"]
                   and lines[i + 1].lstrip().startswith("errors on")]  # (a busy machine may add a latency one)
    assert lines[checkout].split()[:9] == ["critical", "correlated", "100%", "shop", "POST", "/checkout", "risk",
                                           "v1", "scorer"]
    assert "sub-module 'scorer'" in lines[checkout + 1] and lines[checkout + 2].startswith("    traces: ")
    severities = [line.split()[0] for line in lines[2:] if line.split() and line.split()[0] in F.SEVERITIES]
    assert severities == sorted(severities, key=F.SEVERITY_RANK.__getitem__, reverse=True)  # most severe first
    assert lines[2].split()[:2] == ["critical", "correlated"]
    assert any(line.split()[1:2] == ["application_only"] for line in lines[2:])
    assert any(line.split()[1:2] == ["model_only"] and "recommender v2" in line for line in lines[2:])
    assert len(fake.indices[F.FINDINGS_INDEX]) == len(ran.model_findings)  # nothing written


def test_bad_window_is_an_argument_error(ran: scenario.Scenario, fake: FakeElasticsearch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    since, until = ran.window.iso()
    assert cli.main(["incidents", "--store", fake.url, "--since", until, "--until", since]) == 2
    assert "window is empty" in capsys.readouterr().err


def test_analyze_first_links_the_engines_own_error_rate_findings(ran: scenario.Scenario, fake: FakeElasticsearch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(_args(ran, fake, "--analyze", "--format", "json")) == 0
    documents = json.loads(capsys.readouterr().out)["findings"]
    (correlated,) = [d for d in documents if d[F.ID].startswith(f"incident:{F.TYPE_APP_ERRORS}:shop:POST /checkout:")]
    stored = {d[F.ID]: d for d, _ in fake.indices[F.FINDINGS_INDEX]}
    linked = [stored[i] for i in correlated[F.INCIDENT_MODEL_FINDINGS]]
    assert linked and {d[F.TYPE] for d in linked} == {F.TYPE_ERROR_RATE}
    assert {d[F.MODEL_NAME] for d in linked} == {"risk"}
    assert "scorer" in {d.get(F.MODULE_NAME) for d in linked}  # the engine's per-module finding agrees
    assert correlated[F.MODULE_NAME] == "scorer"
    (cart,) = [d for d in documents if d[F.ID].startswith(f"incident:{F.TYPE_APP_ERRORS}:shop:POST /cart:")]
    assert cart[F.INCIDENT_KIND] == "application_only"
