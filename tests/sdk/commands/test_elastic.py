"""``modelspan elastic setup|teardown|roles`` through the real CLI entry point, against loopback servers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from modelspan import cli
from modelspan.baseline import Baseline
from modelspan.elasticsearch import templates
from tests.sdk.elastic.fake_stack import PASSWORD, USER, FakeStack


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in ("ELASTICSEARCH_URL", "ELASTICSEARCH_API_KEY", "ELASTICSEARCH_CLOUD_ID", "ELASTICSEARCH_CA_CERTS",
                 "KIBANA_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ELASTICSEARCH_USERNAME", USER)
    monkeypatch.setenv("ELASTICSEARCH_PASSWORD", PASSWORD)
    with FakeStack() as running:
        yield running


def test_setup_then_rerun_reports_no_changes(stack: FakeStack, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["elastic", "setup", "--es-url", stack.es_url, "--kibana-url", stack.kibana_url,
            "--retention-days", "14", "--webhook-url", "https://hooks.example/x"]
    assert cli.main(argv) == 0
    first = capsys.readouterr().out
    assert "licence platinum, alerting: watcher" in first and "created   index template modelspan-traces" in first
    policy = stack.state.policies[templates.TRACES_POLICY]["policy"]
    assert policy["phases"]["delete"]["min_age"] == "14d"
    assert cli.main(argv) == 0
    assert capsys.readouterr().out.rstrip().endswith("0 change(s)")


def test_environment_supplies_the_url(stack: FakeStack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELASTICSEARCH_URL", stack.es_url)
    assert cli.main(["elastic", "setup"]) == 0
    assert templates.TRACES_TEMPLATE in stack.state.templates and not stack.state.saved  # no Kibana URL


def test_baseline_files_pin_feature_types(stack: FakeStack, tmp_path: Path) -> None:
    path = tmp_path / "churn-3.json"
    Baseline.from_data({"plan": ["a", "b", "a"]}, model="churn", version="3", categorical=["plan"]).save(path)
    assert cli.main(["elastic", "setup", "--es-url", stack.es_url, "--baseline", str(path)]) == 0
    features = stack.state.components[templates.FEATURES_MAPPINGS]["template"]["mappings"]["properties"]
    assert features["attributes"]["properties"]["ml.feature.plan"]["type"] == "keyword"


def test_failures_exit_non_zero_with_the_reason(stack: FakeStack, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    monkeypatch.setenv("ELASTICSEARCH_PASSWORD", "wrong")
    assert cli.main(["elastic", "setup", "--es-url", stack.es_url]) == 1
    assert "rejected the credentials (401)" in capsys.readouterr().err
    missing = tmp_path / "missing.json"
    assert cli.main(["elastic", "setup", "--es-url", stack.es_url, "--baseline", str(missing)]) == 2
    assert "missing.json" in capsys.readouterr().err


def test_dry_run_writes_files_and_sends_nothing(stack: FakeStack, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "plan"
    argv = ["elastic", "setup", "--es-url", stack.es_url, "--kibana-url", stack.kibana_url, "--dry-run", str(out),
            "--assume-license", "basic"]
    assert cli.main(argv) == 0
    assert stack.take() == []
    records = [json.loads(path.read_text()) for path in sorted(out.iterdir())]
    assert any(r["method"] == "POST" and r["path"].startswith("/api/alerting/rule/") for r in records)
    out = capsys.readouterr().out
    assert "nothing sent" in out and "would create" in out and "assumed (not read from a cluster)" in out
    assert "alerts would go to the Kibana server log only (no --webhook-url)" in out
    assert "Elasticsearch 9" not in out and "\ncreated" not in out


@pytest.mark.parametrize(("extra", "where"), [
    ([], "no alerts would be installed (--alerting none, or no Kibana URL for rules)"),
    (["--assume-license", "trial"], "alerts would go to the watch history only (no --webhook-url)"),
    (["--assume-license", "trial", "--webhook-url", "https://hooks.example/x"],
     "alerts would go to the watch history and https://hooks.example/x"),
])
def test_dry_run_says_where_alerts_would_go(extra: list[str], where: str, stack: FakeStack, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """Without a Kibana URL: Watcher when the assumed licence has it, else no alerts, said as such."""
    assert cli.main(["elastic", "setup", "--es-url", stack.es_url, "--dry-run", str(tmp_path), *extra]) == 0
    assert stack.take() == []
    text = capsys.readouterr().out
    assert where in text.splitlines()
    assert "would create" in text and "Elasticsearch 9" not in text and "\ncreated" not in text


def test_teardown_dry_run_plans_deletions_and_claims_nothing(stack: FakeStack, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "plan"
    argv = ["elastic", "teardown", "--es-url", stack.es_url, "--kibana-url", stack.kibana_url, "--dry-run", str(out)]
    assert cli.main(argv) == 0
    assert stack.take() == []
    assert any(json.loads(path.read_text())["method"] == "DELETE" for path in out.iterdir())
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0] == f"dry run: nothing sent; requests written to {out}"
    assert "assumed (not read from a cluster): licence basic" in lines[1]
    assert "would delete dashboard modelspan-overview" in text
    assert "Elasticsearch 9" not in text and not any(line.startswith("deleted") for line in lines)


def test_teardown_and_roles(stack: FakeStack, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["elastic", "setup", "--es-url", stack.es_url, "--kibana-url", stack.kibana_url]) == 0
    assert cli.main(["elastic", "teardown", "--es-url", stack.es_url, "--kibana-url", stack.kibana_url]) == 0
    assert set(stack.state.templates) == {templates.BUILTIN_TRACES_TEMPLATE}
    assert not stack.state.saved and stack.state.indices
    capsys.readouterr()
    assert cli.main(["elastic", "roles"]) == 0
    assert set(json.loads(capsys.readouterr().out)) >= {"modelspan_exporter", "modelspan_analyzer"}
