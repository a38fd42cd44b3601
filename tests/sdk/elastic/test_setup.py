"""``setup``/``teardown`` against loopback Elasticsearch and Kibana servers that record every call."""

from __future__ import annotations

import base64
import fnmatch
import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest

from modelspan import findings
from modelspan.baseline import Baseline
from modelspan.elastic import SetupError, roles, setup, teardown
from modelspan.elastic._kibana import LOG_CONNECTOR_ID, WEBHOOK_CONNECTOR_ID
from modelspan.elasticsearch import layout, templates
from tests.contract.tsc import Case, typecheck
from tests.sdk.elastic.assets_fixture import FixtureAssets
from tests.sdk.elastic.fake_stack import PASSWORD, USER, FakeStack, Recorded

HOOK = "https://hooks.example/modelspan"


@pytest.fixture(autouse=True)
def _no_connection_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test passes decides where setup connects and how it logs in."""
    for name in ("ELASTICSEARCH_URL", "ELASTICSEARCH_API_KEY", "ELASTICSEARCH_USERNAME", "ELASTICSEARCH_PASSWORD",
                 "ELASTICSEARCH_CLOUD_ID", "ELASTICSEARCH_CA_CERTS", "KIBANA_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def stack() -> Any:
    with FakeStack() as running:
        yield running


def run(stack: FakeStack, assets: FixtureAssets | None = None, **options: Any) -> Any:
    options.setdefault("kibana_url", stack.kibana_url)
    kibana = options.pop("kibana_url")
    return setup(stack.es_url, kibana, username=USER, password=PASSWORD, assets=assets or FixtureAssets(), **options)


def writes(requests: list[Recorded]) -> list[tuple[str, str, str]]:
    return [(r.target, r.method, r.path) for r in requests if r.writes]


def test_first_run_on_platinum_installs_templates_indices_dashboards_and_watches(stack: FakeStack) -> None:
    report = run(stack, webhook_url=HOOK)
    sent = stack.take()
    assert report.alerting == "watcher" and report.license == "platinum" and report.version == "9.1.0"
    assert set(stack.state.policies) == {templates.TRACES_POLICY, templates.FINDINGS_POLICY,
                                         templates.PROFILES_POLICY}
    assert set(templates.component_templates()) <= set(stack.state.components)
    assert set(stack.state.templates) == {*templates.index_templates(), templates.BUILTIN_TRACES_TEMPLATE}
    builtin = stack.state.templates[templates.BUILTIN_TRACES_TEMPLATE]
    assert stack.state.templates[templates.TRACES_TEMPLATE] == templates.index_templates(builtin)[
        templates.TRACES_TEMPLATE]
    assert findings.FINDINGS_INDEX in stack.state.indices[templates.FINDINGS_FIRST_INDEX]["aliases"]
    assert {findings.OUTCOMES_INDEX, layout.BASELINES_INDEX, layout.CHECKPOINTS_INDEX} <= set(stack.state.indices)
    assert set(stack.state.saved) == {("index-pattern", "modelspan-spans"), ("dashboard", "modelspan-overview")}
    watch = stack.state.watches["modelspan-drift"]
    assert watch["actions"]["notify"]["webhook"]["url"] == HOOK and watch["metadata"]["modelspan_hash"]
    assert not stack.state.rules and not stack.state.connectors
    assert not any("/api/alerting" in r.path or "/api/actions" in r.path for r in sent)
    for request in sent:
        assert request.headers["authorization"].startswith("Basic ")
        if request.target == "elasticsearch" and request.body:
            assert request.headers["content-type"] == "application/json"
        if request.target == "kibana" and request.method != "GET":
            assert request.headers["kbn-xsrf"]


def test_saved_objects_go_as_one_multipart_import_with_overwrite(stack: FakeStack) -> None:
    run(stack)
    imports = [r for r in stack.take() if r.path.startswith("/api/saved_objects/_import")]
    assert len(imports) == 1
    request = imports[0]
    assert request.path == "/api/saved_objects/_import?overwrite=true"
    content_type = request.headers["content-type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    boundary = content_type.split("boundary=")[1]
    assert request.body.startswith(f"--{boundary}\r\n".encode())
    assert request.body.endswith(f"--{boundary}--\r\n".encode())
    assert b'name="file"; filename="modelspan.ndjson"' in request.body
    assert b"exportedCount" not in request.body  # the export summary line is not an object


def test_basic_licence_installs_the_server_log_connector_and_rules_instead_of_watches(stack: FakeStack) -> None:
    stack.state.license = "basic"
    report = run(stack)
    sent = stack.take()
    assert report.alerting == "rules"
    assert report.alerts_to == "the Kibana server log only (no --webhook-url)"
    assert "alerts go to the Kibana server log only" in report.summary()
    assert not stack.state.watches and not any(r.path.startswith("/_watcher") for r in sent)
    assert set(stack.state.connectors) == {LOG_CONNECTOR_ID}
    assert stack.state.connectors[LOG_CONNECTOR_ID]["connector_type_id"] == ".server-log"
    rule = stack.state.rules["modelspan-drift"]
    assert rule["rule_type_id"] == ".es-query"
    assert {action["id"] for action in rule["actions"]} == {LOG_CONNECTOR_ID}
    created = [r for r in sent if r.method == "POST" and r.path.startswith("/api/alerting/rule/")]
    assert [r.path for r in created] == ["/api/alerting/rule/modelspan-drift"]


@pytest.mark.parametrize("licence", ["basic", "standard", "basic (expired)"])
def test_a_webhook_on_a_licence_below_gold_is_refused_before_any_write(stack: FakeStack, licence: str) -> None:
    """Kibana's .webhook connector needs Gold: setup must not stop half way through its writes."""
    stack.state.license = licence
    with pytest.raises(SetupError, match="webhook connector needs a Gold licence or a trial"):
        run(stack, webhook_url=HOOK, alerting="rules")
    assert writes(stack.take()) == []
    assert not stack.state.connectors and not stack.state.rules and not stack.state.saved


def test_a_webhook_on_gold_with_kibana_rules_gets_its_connector(stack: FakeStack) -> None:
    stack.state.license = "gold"
    report = run(stack, webhook_url=HOOK, alerting="rules")
    assert report.alerts_to == f"the Kibana server log and {HOOK}"
    assert stack.state.connectors[WEBHOOK_CONNECTOR_ID]["config"]["url"] == HOOK
    assert stack.state.connectors[WEBHOOK_CONNECTOR_ID]["connector_type_id"] == ".webhook"
    rule = stack.state.rules["modelspan-drift"]
    assert {action["id"] for action in rule["actions"]} == {LOG_CONNECTOR_ID, WEBHOOK_CONNECTOR_ID}


def test_dry_run_on_basic_with_a_webhook_is_refused_and_plans_nothing(tmp_path: Path) -> None:
    with pytest.raises(SetupError, match="Gold"):
        setup("http://127.0.0.1:9", "http://127.0.0.1:9", dry_run_dir=tmp_path, assets=FixtureAssets(),
              webhook_url=HOOK)
    written = [json.loads(p.read_text()) for p in sorted(tmp_path.iterdir())]
    assert all(request["method"] in ("GET", "HEAD") for request in written)


@pytest.mark.parametrize("licence", ["platinum", "basic"])
def test_rerunning_setup_sends_only_reads(stack: FakeStack, licence: str) -> None:
    stack.state.license = licence
    first = run(stack, webhook_url=HOOK if licence == "platinum" else None)
    assert len(first.changed) > 10
    stack.take()
    second = run(stack, webhook_url=HOOK if licence == "platinum" else None)
    sent = stack.take()
    # Not even idempotent PUTs: every object is compared first and found current.
    assert writes(sent) == []
    assert second.changed == [] and {a.outcome for a in second.actions} == {"unchanged"}
    assert {r.method for r in sent} <= {"GET", "HEAD", "POST"}  # POST only for _bulk_get


def test_a_changed_option_rewrites_only_the_objects_it_affects(stack: FakeStack) -> None:
    run(stack)
    stack.take()
    run(stack, retention_days=7)
    assert writes(stack.take()) == [("elasticsearch", "PUT", f"/_ilm/policy/{templates.TRACES_POLICY}")]
    assert stack.state.policies[templates.TRACES_POLICY]["policy"]["phases"]["delete"]["min_age"] == "7d"
    baseline = Baseline.from_data({"zip": ["75001", "10115"] * 5}, model="m", version="1", categorical=["zip"])
    run(stack, retention_days=7, baselines=[baseline])
    assert writes(stack.take()) == [("elasticsearch", "PUT", f"/_component_template/{templates.FEATURES_MAPPINGS}")]


def test_changed_assets_update_in_place_without_duplicates(stack: FakeStack) -> None:
    stack.state.license = "gold"  # Kibana rules with a webhook connector: Gold or a trial
    assets = FixtureAssets()
    run(stack, assets, webhook_url=HOOK, alerting="rules")
    stack.take()
    assets.threshold = 0.5
    assets.objects[1]["attributes"]["title"] = "modelspan overview (v2)"
    run(stack, assets, webhook_url=HOOK + "/v2", alerting="rules")
    sent = writes(stack.take())
    assert ("kibana", "PUT", f"/api/actions/connector/{WEBHOOK_CONNECTOR_ID}") in sent
    assert ("kibana", "PUT", "/api/alerting/rule/modelspan-drift") in sent
    assert not any(method == "POST" and "/api/alerting" in path for _, method, path in sent)
    imported = [path for _, _, path in sent if "_import" in path]
    assert len(imported) == 1 and len(stack.state.rules) == 1
    assert stack.state.saved[("dashboard", "modelspan-overview")]["attributes"]["title"].endswith("(v2)")
    assert "0.5" in stack.state.rules["modelspan-drift"]["params"]["esQuery"]


def test_watches_are_replaced_only_when_they_change(stack: FakeStack) -> None:
    assets = FixtureAssets()
    run(stack, assets)
    stack.take()
    assets.threshold = 0.3
    run(stack, assets)
    assert writes(stack.take()) == [("elasticsearch", "PUT", "/_watcher/watch/modelspan-drift")]


def test_existing_index_gets_only_its_missing_fields(stack: FakeStack) -> None:
    stack.state.indices[findings.OUTCOMES_INDEX] = {"aliases": {}, "mappings": {"properties": {
        "prediction": {"properties": {"id": {"type": "keyword"}}}}}}
    report = run(stack)
    put = [r for r in stack.take() if r.method == "PUT" and r.path.startswith(f"/{findings.OUTCOMES_INDEX}")]
    assert [r.path for r in put] == [f"/{findings.OUTCOMES_INDEX}/_mapping"]
    assert set(put[0].json()["properties"]) == {"actual", "@timestamp", "model"}
    assert any(a.name == findings.OUTCOMES_INDEX and a.outcome == "updated" for a in report.actions)


def test_dry_run_writes_every_request_and_sends_nothing(stack: FakeStack, tmp_path: Path) -> None:
    report = run(stack, dry_run_dir=tmp_path / "plan", dry_run_license="trial", webhook_url=HOOK)
    assert stack.take() == []
    files = sorted((tmp_path / "plan").iterdir())
    records = [json.loads(path.read_text()) for path in files]
    assert [path.name[:3] for path in files] == [f"{n:03d}" for n in range(1, len(files) + 1)]
    assert report.alerting == "watcher"
    puts = {(r["method"], r["path"]) for r in records}
    assert ("PUT", f"/_index_template/{templates.TRACES_TEMPLATE}") in puts
    assert ("PUT", "/_watcher/watch/modelspan-drift") in puts
    template = next(r for r in records if r["path"] == f"/_index_template/{templates.TRACES_TEMPLATE}"
                    and r["method"] == "PUT")
    assert template["body"] == templates.index_templates()[templates.TRACES_TEMPLATE]
    assert template["headers"]["Content-Type"] == "application/json"
    imported = next(r for r in records if "_import" in r["path"])
    assert imported["headers"]["kbn-xsrf"] and "modelspan-overview" in imported["body"]
    text = "".join(path.read_text() for path in files)
    assert PASSWORD not in text and base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode() not in text
    assert all(r["headers"].get("Authorization") == "<redacted>" for r in records)


def test_dry_run_on_basic_plans_rules(tmp_path: Path) -> None:
    report = setup("http://127.0.0.1:9", "http://127.0.0.1:9", dry_run_dir=tmp_path, assets=FixtureAssets())
    paths = [json.loads(p.read_text())["path"] for p in sorted(tmp_path.iterdir())]
    assert report.alerting == "rules" and "/api/alerting/rule/modelspan-drift" in paths


def test_teardown_removes_what_setup_installed_and_keeps_the_data(stack: FakeStack) -> None:
    run(stack)
    stack.state.streams += ["traces-modelspan.otel-default", "metrics-modelspan.profile-default"]
    report = teardown(stack.es_url, stack.kibana_url, username=USER, password=PASSWORD, assets=FixtureAssets())
    assert not stack.state.watches and not stack.state.saved
    assert set(stack.state.templates) == {templates.BUILTIN_TRACES_TEMPLATE}
    assert set(stack.state.components) == {"otel@mappings", "traces-otel@mappings", "ecs@mappings"}
    assert stack.state.streams and findings.OUTCOMES_INDEX in stack.state.indices
    assert set(stack.state.policies) == {templates.TRACES_POLICY, templates.FINDINGS_POLICY,
                                         templates.PROFILES_POLICY}
    assert any(a.outcome == "kept" for a in report.actions)
    teardown(stack.es_url, stack.kibana_url, username=USER, password=PASSWORD, assets=FixtureAssets(),
             delete_data=True)
    assert not stack.state.streams and not stack.state.indices and not stack.state.policies


def test_teardown_on_basic_removes_rules_and_connectors(stack: FakeStack) -> None:
    stack.state.license = "basic"
    run(stack)
    teardown(stack.es_url, stack.kibana_url, username=USER, password=PASSWORD, assets=FixtureAssets())
    assert not stack.state.rules and not stack.state.connectors and not stack.state.saved


def test_bad_credentials_say_so(stack: FakeStack) -> None:
    with pytest.raises(SetupError, match=r"rejected the credentials \(401\)") as caught:
        setup(stack.es_url, stack.kibana_url, username=USER, password="wrong", assets=FixtureAssets())
    assert caught.value.status == 401


def test_missing_privilege_is_named(stack: FakeStack) -> None:
    stack.state.forbidden.append(("PUT", r"/_index_template/.*"))
    with pytest.raises(SetupError, match="manage_index_templates") as caught:
        run(stack)
    assert caught.value.status == 403 and "unauthorized" in str(caught.value)
    stack.state.forbidden[:] = [("POST", r"/api/saved_objects/_import")]
    with pytest.raises(SetupError, match="Saved Objects Management"):
        run(stack)


@pytest.mark.parametrize(("es", "kibana", "refused"), [("8.10.4", "9.1.0", "Elasticsearch 8.10.4"),
                                                       ("8.17.0", "8.12.0", "Kibana 8.12.0")])
def test_old_versions_are_refused_before_any_write(stack: FakeStack, es: str, kibana: str, refused: str) -> None:
    stack.state.version, stack.state.kibana_version = es, kibana
    with pytest.raises(SetupError, match=f"{refused} is not supported"):
        run(stack)
    assert writes(stack.take()) == []


def test_supported_versions_pass(stack: FakeStack) -> None:
    stack.state.version = stack.state.kibana_version = "8.17.0"
    assert run(stack).version == "8.17.0"


def test_connection_refused_names_the_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SetupError, match=f"cannot reach elasticsearch at http://127.0.0.1:{port}.*Check the URL"):
        setup(f"http://127.0.0.1:{port}", None, assets=FixtureAssets())


def test_cluster_without_elastic_otel_templates_is_explained(stack: FakeStack) -> None:
    del stack.state.components["otel@mappings"]
    with pytest.raises(SetupError, match="otel@mappings"):
        run(stack)


def test_watcher_on_a_basic_licence_is_refused(stack: FakeStack) -> None:
    stack.state.license = "basic"
    with pytest.raises(SetupError, match="Watcher needs"):
        run(stack, alerting="watcher")
    report = run(stack, kibana_url=None)
    assert report.alerting == "none" and report.warnings


def test_feature_type_clash_fails_before_sending(stack: FakeStack) -> None:
    one = Baseline.from_data({"age": [1.0, 2.0]}, model="a", version="1")
    two = Baseline.from_data({"age": ["x", "y"]}, model="b", version="1", categorical=["age"])
    with pytest.raises(ValueError, match=r"ml\.feature\.age"):
        run(stack, baselines=[one, two])
    assert stack.take() == []


def test_a_bad_cloud_id_is_a_setup_error(tmp_path: Path) -> None:
    with pytest.raises(SetupError, match="Cloud ID"):
        setup(cloud_id="nonsense", dry_run_dir=tmp_path)


def test_roles_type_check_and_stay_least_privilege() -> None:
    bodies = roles()
    typecheck([Case(f"role {name}", "RoleBody", body) for name, body in bodies.items()])
    exporter = bodies["modelspan_exporter"]
    assert exporter["cluster"] == []
    assert {p for grant in exporter["indices"] for p in grant["privileges"]} == {"create_doc", "auto_configure"}
    analyzer = bodies["modelspan_analyzer"]
    writable = {name for grant in analyzer["indices"] if "index" in grant["privileges"] for name in grant["names"]}
    assert findings.FINDINGS_INDEX in writable and not any(name.startswith("traces-") for name in writable)


def _searched_by_alerts() -> set[str]:
    """Every index pattern a shipped watch or Kibana rule searches (ES|QL ``FROM`` included)."""
    kibana = Path(__file__).resolve().parents[3] / "kibana"
    searched: set[str] = set()
    for path in (kibana / "watches").glob("*.json"):
        searched.update(json.loads(path.read_text())["input"]["search"]["request"]["indices"])
    for path in (kibana / "rules").glob("*.json"):
        params = json.loads(path.read_text())["params"]
        esql = (params.get("esqlQuery") or {}).get("esql")
        if esql:
            source = re.match(r"FROM\s+(\S+)", esql)
            assert source, esql
            searched.add(source.group(1))
        searched.update(params.get("index") or [])
    return searched


def test_the_installer_can_read_what_its_watches_and_rules_search() -> None:
    # watches run with the privileges of whoever stored them, rules with their creator's API key
    readable = [name for grant in roles()["modelspan_installer"]["indices"] if "read" in grant["privileges"]
                for name in grant["names"]]
    searched = _searched_by_alerts()
    assert {"modelspan-findings", "metrics-modelspan.profile-*"} <= searched
    for index in searched:
        assert any(fnmatch.fnmatchcase(index, pattern) for pattern in readable), (index, readable)


@pytest.mark.parametrize("licence", ["trial", "basic"])
def test_shipped_assets_install_and_reinstall_without_changes(stack: FakeStack, licence: str) -> None:
    from modelspan.elastic import assets

    stack.state.license = licence
    hook = HOOK if licence == "trial" else None  # Kibana's webhook connector needs Gold or a trial
    setup(stack.es_url, stack.kibana_url, username=USER, password=PASSWORD, webhook_url=hook)
    shipped = {(item["type"], item["id"]) for item in map(json.loads, assets.saved_objects().decode().splitlines())}
    assert set(stack.state.saved) == shipped
    installed = stack.state.watches if licence == "trial" else stack.state.rules
    assert set(installed) == set(assets.watches()) and installed
    stack.take()
    again = setup(stack.es_url, stack.kibana_url, username=USER, password=PASSWORD, webhook_url=hook)
    assert writes(stack.take()) == [] and again.changed == []
    teardown(stack.es_url, stack.kibana_url, username=USER, password=PASSWORD)
    assert not stack.state.saved and not stack.state.watches and not stack.state.rules


def test_kibana_space_prefixes_every_kibana_call(stack: FakeStack) -> None:
    run(stack, kibana_space="ml-team")
    kibana_paths = [r.path for r in stack.take() if r.target == "kibana"]
    assert kibana_paths and all(path.startswith("/s/ml-team/api/") for path in kibana_paths)
    assert stack.spaces == {"ml-team"}


def test_credentials_in_the_url_are_sent_as_basic_auth(stack: FakeStack) -> None:
    host = stack.es_url.removeprefix("http://")
    report = setup(f"http://{USER}:{PASSWORD}@{host}", None, assets=FixtureAssets(), alerting="none")
    assert report.version == "9.1.0"
    assert all(r.headers["authorization"].startswith("Basic ") for r in stack.take())


def test_kibana_without_bulk_get_gets_a_full_overwrite_import(stack: FakeStack) -> None:
    stack.state.forbidden.append(("POST", r"/api/saved_objects/_bulk_get"))  # a 403 is not "route missing"
    with pytest.raises(SetupError, match="Saved Objects Management"):
        run(stack)
    stack.state.forbidden.clear()
    original = stack._kibana

    def without_bulk_get(request: Recorded, path: str) -> tuple[int, Any]:
        if path == "/api/saved_objects/_bulk_get":
            return 404, {"statusCode": 404, "message": "Not Found"}
        return original(request, path)

    stack._kibana = without_bulk_get  # type: ignore[method-assign]
    run(stack)
    run(stack)
    imports = [r.path for r in stack.take() if "_import" in r.path]
    assert imports == ["/api/saved_objects/_import?overwrite=true"] * 2
    assert len(stack.state.saved) == 2


def test_bad_alert_options_are_refused_before_any_write(stack: FakeStack) -> None:
    from modelspan.elastic import assets

    with pytest.raises(ValueError, match="throttle"):
        setup(stack.es_url, stack.kibana_url, username=USER, password=PASSWORD, throttle="soon", assets=assets)
    with pytest.raises(ValueError, match="webhook URL"):
        setup(stack.es_url, stack.kibana_url, username=USER, password=PASSWORD, webhook_url="ftp://x", assets=assets)
    assert writes(stack.take()) == []


def test_a_second_dry_run_replaces_the_first_plan(tmp_path: Path) -> None:
    setup("http://127.0.0.1:9", "http://127.0.0.1:9", dry_run_dir=tmp_path, assets=FixtureAssets())
    with_kibana = len(list(tmp_path.iterdir()))
    (tmp_path / "notes.txt").write_text("mine")
    setup("http://127.0.0.1:9", None, dry_run_dir=tmp_path, assets=FixtureAssets())
    planned = [path for path in tmp_path.iterdir() if path.suffix == ".json"]
    assert 0 < len(planned) < with_kibana and (tmp_path / "notes.txt").exists()
    assert not any(json.loads(path.read_text())["target"] == "kibana" for path in planned)


def _published_otel_mappings(attributes: int, scope: int, resource: int) -> dict[str, Any]:
    """The reference ``otel@mappings`` as another release published it, with other priorities."""
    body = json.loads(json.dumps(FakeStack().state.components["otel@mappings"]))
    properties = body["template"]["mappings"]["properties"]
    properties["attributes"]["priority"] = attributes
    properties["scope"]["properties"]["attributes"]["priority"] = scope
    properties["resource"]["properties"]["attributes"]["priority"] = resource
    return body


@pytest.mark.parametrize("priorities", [(10, 20, 30), (20, 30, 40), (7, 8, 9)])
def test_our_passthrough_priority_follows_the_clusters_otel_mappings(
        stack: FakeStack, priorities: tuple[int, int, int]) -> None:
    stack.state.components["otel@mappings"] = _published_otel_mappings(*priorities)
    run(stack)
    for name in (templates.TRACES_MAPPINGS, templates.FEATURES_MAPPINGS):
        ours = stack.state.components[name]["template"]["mappings"]["properties"]["attributes"]
        assert ours["priority"] == priorities[0]
    assert templates.TRACES_TEMPLATE in stack.state.templates  # the cluster accepted the composition


def test_the_fake_cluster_refuses_duplicate_passthrough_priorities(stack: FakeStack) -> None:
    """The check above can fail: our components at 20 beside a published scope.attributes at 20."""
    from tests.sdk.elastic.fake_stack import passthrough_clash

    components = {**stack.state.components, **templates.component_templates()}
    components["otel@mappings"] = _published_otel_mappings(10, 20, 30)
    composed = templates.index_templates()[templates.TRACES_TEMPLATE]["composed_of"]
    assert passthrough_clash(components, composed) == (
        "Priority [20] is defined more than once. Check fields ['attributes', 'scope.attributes'].")
    assert passthrough_clash({**components, **templates.component_templates(passthrough=10)}, composed) is None


def _shipped_objects() -> list[dict[str, Any]]:
    from modelspan.elastic import assets

    return [json.loads(line) for line in assets.saved_objects().decode().splitlines()]


def test_every_saved_object_is_stamped_with_the_version_of_its_shape() -> None:
    """Unstamped objects are taken as current by Kibana and skip migrations (Kibana #237703)."""
    expected = {"index-pattern": "8.0.0", "search": "10.1.0", "dashboard": "10.1.0"}
    objects = _shipped_objects()
    assert {item["type"] for item in objects} == set(expected)
    for item in objects:
        assert item["coreMigrationVersion"] == "8.8.0"
        assert item["typeMigrationVersion"] == expected[item["type"]]


def test_kibana_runs_the_saved_search_tabs_migration_on_our_stamped_searches(stack: FakeStack) -> None:
    setup(stack.es_url, stack.kibana_url, username=USER, password=PASSWORD)  # the shipped assets
    searches = [item for key, item in stack.state.saved.items() if key[0] == "search"]
    assert searches and all(item["attributes"]["tabs"] for item in searches)
    from tests.sdk.elastic.fake_stack import kibana_import

    unstamped = {k: v for k, v in next(i for i in _shipped_objects() if i["type"] == "search").items()
                 if k != "typeMigrationVersion"}
    assert "tabs" not in kibana_import(unstamped)["attributes"]  # the failure the stamp prevents


def test_objects_kibana_normalised_on_import_count_as_unchanged_and_changed_ones_do_not() -> None:
    from modelspan.elastic._kibana import _same_object
    from tests.sdk.elastic.fake_stack import kibana_import

    for ours in _shipped_objects():
        theirs = kibana_import(ours)
        assert _same_object(ours, theirs), ours["id"]
        if ours["type"] != "index-pattern":
            assert theirs["attributes"] != ours["attributes"]  # Kibana changed what it holds
            edited = json.loads(json.dumps(ours))
            edited["attributes"]["description"] = edited["attributes"]["description"].replace(
                "[modelspan asset ", "[modelspan asset 0")[:-2] + "]"
            assert not _same_object(edited, theirs)
        else:
            changed = json.loads(json.dumps(ours))
            changed["attributes"]["timeFieldName"] = "event.ingested"
            assert not _same_object(changed, theirs)
