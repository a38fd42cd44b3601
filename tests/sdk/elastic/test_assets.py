"""modelspan.elastic.assets: finding kibana/, and filling in the install-time webhook, throttle and connectors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import modelspan
from modelspan.elastic import assets

REPO_KIBANA = Path(__file__).resolve().parents[3] / "kibana"


def test_kibana_dir_is_the_checkout_in_an_editable_install() -> None:
    assert assets.kibana_dir() == REPO_KIBANA


def test_kibana_dir_is_the_package_data_in_a_wheel_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "site-packages" / "modelspan"
    shutil.copytree(REPO_KIBANA / "saved_objects", package / assets.PACKAGE_DATA / "saved_objects")
    monkeypatch.setattr(modelspan, "__path__", [str(package)])
    assert assets.kibana_dir() == package / assets.PACKAGE_DATA


def test_the_checkout_wins_over_a_stale_copy_in_site_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # hatch copies force-included kibana/ into site-packages for editable installs too
    package = tmp_path / "site-packages" / "modelspan"
    shutil.copytree(REPO_KIBANA / "saved_objects", package / assets.PACKAGE_DATA / "saved_objects")
    monkeypatch.setattr(modelspan, "__path__", [str(package), *modelspan.__path__])
    assert assets.kibana_dir() == REPO_KIBANA


def test_kibana_dir_explains_where_it_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(modelspan, "__path__", [str(tmp_path / "a" / "modelspan")])
    with pytest.raises(FileNotFoundError, match="_kibana"):
        assets.kibana_dir()


def test_saved_objects_is_the_committed_ndjson_and_ids_list_dependents_first() -> None:
    data = assets.saved_objects()
    assert data == b"".join(p.read_bytes() for p in sorted((REPO_KIBANA / "saved_objects").glob("*.ndjson")))
    objects = [json.loads(line) for line in data.decode().splitlines()]
    ids = assets.saved_object_ids()
    assert sorted(ids) == sorted((o["type"], o["id"]) for o in objects)
    kinds = [kind for kind, _ in ids]
    assert kinds.index("index-pattern") > max(i for i, k in enumerate(kinds) if k != "index-pattern")
    assert ("dashboard", "modelspan-overview") in ids


def test_watches_without_a_url_only_log() -> None:
    watches = assets.watches()
    assert len(watches) == 9
    for body in watches.values():
        assert set(body["actions"]) == {"log"}
        assert body["throttle_period"] == "15m"


def test_watches_post_to_the_webhook_url_given_at_install() -> None:
    url = "https://bot:s%3Acret@hooks.example.com:8443/services/T0/B1?channel=ml&token="
    for body in assets.watches(webhook_url=url, throttle="1h").values():
        webhook = body["actions"]["webhook"]["webhook"]
        assert body["throttle_period"] == "1h"
        assert (webhook["scheme"], webhook["host"], webhook["port"], webhook["path"]) == (
            "https", "hooks.example.com", 8443, "/services/T0/B1")
        assert webhook["params"] == {"channel": "ml", "token": ""}
        assert webhook["auth"] == {"basic": {"username": "bot", "password": "s:cret"}}
        assert webhook["method"] == "post" and "ctx.payload" in webhook["body"]


def test_webhook_defaults_port_and_path_and_drops_the_placeholder() -> None:
    body = assets.watches(webhook_url="http://alerts.internal")["modelspan-drift"]
    webhook = body["actions"]["webhook"]["webhook"]
    where = (webhook["scheme"], webhook["host"], webhook["port"], webhook["path"])
    assert where == ("http", "alerts.internal", 80, "/")
    assert "params" not in webhook and "auth" not in webhook
    assert ".invalid" not in json.dumps(body)


def test_each_call_returns_fresh_bodies() -> None:
    first = assets.watches(webhook_url="https://a.example/x")
    first["modelspan-drift"]["actions"]["webhook"]["webhook"]["host"] = "changed"
    assert assets.watches(webhook_url="https://a.example/x")["modelspan-drift"]["actions"]["webhook"]["webhook"][
        "host"] == "a.example"


@pytest.mark.parametrize("url", ["ftp://host/x", "hooks.example.com/x", "https:///path", "https://h:99999/x", ""])
def test_bad_webhook_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="webhook URL"):
        assets.watches(webhook_url=url)


@pytest.mark.parametrize("throttle", ["", "15", "15 m", "0m", "-1h", "1w"])
def test_bad_throttles_are_refused(throttle: str) -> None:
    with pytest.raises(ValueError, match="throttle"):
        assets.watches(throttle=throttle)
    with pytest.raises(ValueError, match="throttle"):
        assets.rules(throttle=throttle)


def test_rules_without_connectors_have_no_actions() -> None:
    rules = assets.rules()
    assert len(rules) == 9
    assert all(body["actions"] == [] for body in rules.values())


def test_rules_get_one_action_per_connector_shaped_for_its_type() -> None:
    rules = assets.rules(["log", "hook", "chat"], throttle="30m", connector_types={"chat": ".slack"},
                         log_connector_id="log")
    for body in rules.values():
        by_id = {action["id"]: action for action in body["actions"]}
        assert set(by_id) == {"log", "hook", "chat"}
        assert set(by_id["log"]["params"]) == {"level", "message"}
        assert set(by_id["chat"]["params"]) == {"message"}
        assert json.loads(by_id["hook"]["params"]["body"])["message"] == "{{context.message}}"
        for action in body["actions"]:
            assert action["group"] == assets.RULE_ACTION_GROUP
            # every run's new findings notify (a throttle would silence the findings of its runs)
            assert action["frequency"] == {"summary": False, "notify_when": "onActiveAlert", "throttle": None}


def test_unknown_connector_types_are_refused() -> None:
    with pytest.raises(ValueError, match="connector type"):
        assets.rules(["x"], connector_types={"x": ".jira"})
