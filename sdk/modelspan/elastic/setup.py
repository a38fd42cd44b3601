"""``modelspan elastic setup``: install templates, ILM, indices, dashboards and alerts, idempotently.

What a run does, in order (each step compares before it writes, so a second run writes nothing)::

    GET /  and  GET /_license               version >= 8.17, licence decides watches vs rules
    GET /_component_template/otel@mappings  Elastic's OTel templates must be there to compose; our
    GET /_index_template/traces-otel@template  span template mirrors the built-in one's components
    ILM policies, component templates, index templates   GET, then PUT only if the
                                            ``_meta.modelspan_hash`` stamp differs
    findings alias, outcomes/baselines/checkpoints       HEAD, PUT only if missing; missing
                                            mapping fields are added with PUT _mapping
    Kibana saved objects                    _bulk_get, multipart _import?overwrite=true of the
                                            missing/different ones only
    alerting                                Watcher licence (standard, gold, platinum, enterprise,
                                            trial): PUT _watcher/watch/<id> when its stamp differs;
                                            otherwise Kibana connectors + ``.es-query`` rules
                                            created under fixed ids, updated in place

``dry_run_dir`` writes every request instead (``NNN-<target>-<method>-<path>.json``) and sends
nothing; the answers assumed are those of a fresh cluster. ``teardown`` removes what setup installs;
the data (span data streams, findings, outcomes, baselines, checkpoints) and the ILM policies that
still govern it stay unless ``delete_data=True``.

Example::

    report = setup("https://es:9200", "https://kibana:5601", api_key="...", webhook_url="https://hooks...")
    print(report.summary())
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from modelspan import findings
from modelspan.elastic import _kibana
from modelspan.elastic._http import DryRunTransport, HttpTransport, SetupError, Transport, quote
from modelspan.elastic._roles import roles
from modelspan.elastic._session import Session, SetupReport, check_version
from modelspan.elasticsearch import layout, profiles, templates
from modelspan.elasticsearch.connection import ENV_CLOUD_ID, ENV_URL, resolve_settings

if TYPE_CHECKING:
    from modelspan.baseline import Baseline

__all__ = ["Assets", "SetupError", "SetupReport", "roles", "setup", "teardown"]

MIN_VERSION = (8, 17)
WATCHER_LICENSES = frozenset({"standard", "gold", "platinum", "enterprise", "trial"})
KIBANA_WEBHOOK_LICENSES = frozenset({"gold", "platinum", "enterprise", "trial"})
"""Licences whose Kibana allows the ``.webhook`` connector (``minimumLicenseRequired: 'gold'``);
``.server-log`` needs only Basic."""
DEFAULT_THROTTLE = "15m"
Alerting = Literal["auto", "watcher", "rules", "none"]
MONITOR = "cluster privilege monitor"
ILM = "cluster privilege manage_ilm"
TEMPLATES = "cluster privilege manage_index_templates"
WATCHER = "cluster privilege manage_watcher"
CREATE_INDEX = f"index privilege create_index on {layout.OWN_INDICES}"
MANAGE_INDEX = f"index privilege manage on {layout.OWN_INDICES}"
DELETE_INDEX = (f"index privilege delete_index on {layout.SPANS_PATTERN}, {profiles.PATTERN} and "
                f"{layout.OWN_INDICES}")


class Assets(Protocol):
    """What setup installs in Kibana and Watcher (``modelspan.elastic.assets`` by default)."""

    def saved_objects(self) -> bytes: ...
    def watches(self, webhook_url: str | None = None, throttle: str = DEFAULT_THROTTLE) -> dict[str, Any]: ...
    def rules(self, *args: Any, **kwargs: Any) -> dict[str, Any]: ...


def _connect(es_url: str | None, kibana_url: str | None, options: Mapping[str, Any]) -> tuple[Session, bool]:
    """A session over HTTP (or to dry-run files) with the settings every part of modelspan reads
    (``modelspan.elasticsearch.connection``: arguments, else ``ELASTICSEARCH_*``/``KIBANA_URL``)."""
    try:
        settings = resolve_settings(es_url, api_key=options.get("api_key"), username=options.get("username"),
                                    password=options.get("password"), cloud_id=options.get("cloud_id"),
                                    ca_certs=options.get("ca_certs"), verify_certs=options.get("verify_certs"),
                                    headers=options.get("headers"), kibana_url=kibana_url)
    except ValueError as exc:
        raise SetupError(str(exc).removeprefix("modelspan: ")) from exc
    transport: Transport | None = options.get("transport")
    if transport is None and options.get("dry_run_dir") is not None:
        transport = DryRunTransport(options["dry_run_dir"], license=options.get("dry_run_license", "basic"),
                                    authorized=settings.authorization is not None)
    if transport is None:
        if not settings.configured:
            raise SetupError(f"no Elasticsearch: pass --es-url or set {ENV_URL} (or {ENV_CLOUD_ID})")
        transport = HttpTransport(settings)
    # Without a Kibana URL a real run skips Kibana, so a dry run plans no Kibana requests either.
    return Session(transport, kibana_space=options.get("kibana_space")), bool(settings.kibana_url)


def _check_cluster(session: Session) -> dict[str, Any] | None:
    """Version, licence and Elastic's OTel templates; returns the built-in traces template, if any."""
    session.report.version = check_version("elasticsearch", session.es("GET", "/", MONITOR).body, MIN_VERSION)
    licence = (session.es("GET", "/_license", MONITOR).body or {}).get("license", {})
    kind, status = licence.get("type", "unknown"), licence.get("status", "unknown")
    session.report.license = kind if status == "active" else f"{kind} ({status})"
    for name in templates.ELASTIC_COMPONENTS:
        answer = session.es("GET", f"/_component_template/{quote(name)}", TEMPLATES, expect=(200, 404))
        if answer.status == 404:
            raise SetupError(f"Elasticsearch has no {name} component template: modelspan composes Elastic's "
                             "OTel traces mappings. Enable them (xpack.otel_data.registry.enabled: true) and rerun.")
        if name == "otel@mappings":
            listed = (answer.body or {}).get("component_templates") or [{}]
            session.passthrough_priority = templates.passthrough_priority(listed[0].get("component_template"))
    path = f"/_index_template/{quote(templates.BUILTIN_TRACES_TEMPLATE)}"
    builtin = session.es("GET", path, TEMPLATES, expect=(200, 404))
    if builtin.status == 404:
        return None
    found: dict[str, Any] = builtin.body["index_templates"][0]["index_template"]
    return found


def _watcher_allowed(session: Session) -> bool:
    return session.report.license in WATCHER_LICENSES


def _put_stamped(session: Session, kind: str, path: str, body: Mapping[str, Any],
                 installed: Callable[[Any], Any], privilege: str, meta_key: str = "_meta") -> None:
    """PUT ``body`` unless the installed object already carries the same ``modelspan_hash``.

    ``installed`` picks, from the GET answer, the object that holds ``meta_key`` (shaped like
    ``body``, or like ``body["policy"]`` for an ILM policy).
    """
    current = session.es("GET", path, privilege, expect=(200, 404))
    name = path.rsplit("/", 1)[-1]
    existing = None
    if current.status == 200:
        try:
            existing = installed(current.body)
        except (KeyError, IndexError, TypeError):
            existing = None
    wanted = templates.body_hash(body.get("policy", body), meta_key)
    if isinstance(existing, Mapping) and templates.body_hash(existing, meta_key) == wanted:
        session.record("unchanged", kind, name)
        return
    session.es("PUT", path, privilege, dict(body))
    session.record("created" if current.status == 404 else "updated", kind, name)


def _policy_reader(name: str) -> Callable[[Any], Any]:
    """GET _ilm/policy/<name> answers ``{name: {"policy": {...}}}``; its ``_meta`` is inside the policy."""
    return lambda answer: answer[name]["policy"]


def _install_templates(session: Session, builtin: Mapping[str, Any] | None, baselines: Iterable[Baseline],
                       retention_days: int, findings_retention_days: int) -> None:
    for name, body in templates.ilm_policies(retention_days, findings_retention_days).items():
        _put_stamped(session, "ILM policy", f"/_ilm/policy/{quote(name)}", body, _policy_reader(name), ILM)
    priority = session.passthrough_priority
    for name, body in templates.component_templates(baselines, passthrough=priority).items():
        _put_stamped(session, "component template", f"/_component_template/{quote(name)}", body,
                     lambda answer: answer["component_templates"][0]["component_template"], TEMPLATES)
    for name, body in templates.index_templates(builtin).items():
        _put_stamped(session, "index template", f"/_index_template/{quote(name)}", body,
                     lambda answer: answer["index_templates"][0]["index_template"], TEMPLATES)


def _install_indices(session: Session) -> None:
    for index, body in templates.findings_bootstrap().items():
        name = templates.bootstrap_name(index, body)
        if session.es("HEAD", f"/{quote(name)}", CREATE_INDEX, expect=(200, 404)).status == 404:
            session.es("PUT", f"/{quote(index)}", CREATE_INDEX, body)
            session.record("created", "index", index, f"alias {name}" if name != index else "")
            continue
        mapping = body.get("mappings") or (findings.mapping() if name == layout.FINDINGS_INDEX else {})
        _add_missing_fields(session, name, mapping)


def _add_missing_fields(session: Session, name: str, mapping: Mapping[str, Any]) -> None:
    """Add the fields of ``mapping`` an existing index lacks (a conflicting type is an error)."""
    answer = session.es("GET", f"/{quote(name)}/_mapping", MANAGE_INDEX).body or {}
    present: set[str] = set()
    for index in answer.values():
        present |= set(index.get("mappings", {}).get("properties", {}))
    missing = sorted(set(mapping.get("properties", {})) - present)
    if not missing:
        session.record("unchanged", "index", name)
        return
    update = {"properties": {field: mapping["properties"][field] for field in missing}}
    suffix = "?write_index_only=true" if name == layout.FINDINGS_INDEX else ""
    session.es("PUT", f"/{quote(name)}/_mapping{suffix}", MANAGE_INDEX, update)
    session.record("updated", "index", name, "added " + ", ".join(missing))


def _install_watches(session: Session, watches: Mapping[str, Mapping[str, Any]]) -> None:
    for watch_id, body in watches.items():
        stamped = templates.stamp(dict(body), "metadata")
        _put_stamped(session, "watch", f"/_watcher/watch/{quote(watch_id)}", stamped,
                     lambda answer: answer["watch"] if answer.get("found") else None, WATCHER, "metadata")


def _rules(assets: Assets, webhook_url: str | None, throttle: str, connectors: Mapping[str, Any]) -> dict[str, Any]:
    """Rule bodies from the assets, given whichever of our options its ``rules()`` accepts.

    Rules that come back without actions get ours (log, and post to the webhook).
    """
    connector_ids = list(connectors)
    offered = {"webhook_url": webhook_url, "throttle": throttle, "connector_ids": connector_ids,
               "connector_types": {key: body["connector_type_id"] for key, body in connectors.items()},
               "log_connector_id": _kibana.LOG_CONNECTOR_ID,
               "webhook_connector_id": _kibana.WEBHOOK_CONNECTOR_ID if webhook_url else None}
    accepted = inspect.signature(assets.rules).parameters
    rules = assets.rules(**{key: value for key, value in offered.items() if key in accepted})
    actions = _kibana.default_actions(connector_ids)
    return {rule_id: body if body.get("actions") else {**body, "actions": actions} for rule_id, body in rules.items()}


def _choose_alerting(session: Session, alerting: Alerting, has_kibana: bool) -> None:
    if alerting == "auto":
        alerting = "watcher" if _watcher_allowed(session) else "rules" if has_kibana else "none"
        if alerting == "none":
            session.report.warnings.append("licence has no Watcher and no Kibana URL was given: no alerts installed")
    elif alerting == "watcher" and not _watcher_allowed(session):
        raise SetupError(f"Watcher needs a standard, gold, platinum, enterprise or trial licence; this cluster "
                         f"has {session.report.license}. Use Kibana rules (--alerting rules) instead.")
    elif alerting == "rules" and not has_kibana:
        raise SetupError("Kibana rules need a Kibana URL (--kibana-url or KIBANA_URL)")
    session.report.alerting = alerting


def _check_alert_targets(session: Session, webhook_url: str | None) -> None:
    """Refuse, before any write, a webhook the licence cannot carry; say where alerts will go."""
    alerting = session.report.alerting
    if alerting == "rules" and webhook_url and session.report.license not in KIBANA_WEBHOOK_LICENSES:
        raise SetupError(f"Kibana's webhook connector needs a Gold licence or a trial; this cluster has "
                         f"{session.report.license}. Rerun without --webhook-url (alerts then go to the Kibana "
                         f"server log), or start a trial (POST /_license/start_trial, or ES_LICENSE=trial in "
                         f"docker compose).")
    if alerting == "rules":
        where = "the Kibana server log" + (f" and {webhook_url}" if webhook_url else " only (no --webhook-url)")
    elif alerting == "watcher":
        where = "the watch history" + (f" and {webhook_url}" if webhook_url else " only (no --webhook-url)")
    else:
        where = "nowhere: no alerts are installed"
    session.report.alerts_to = where


def _load_assets(assets: Assets | None) -> Assets:
    if assets is not None:
        return assets
    try:
        from modelspan.elastic import assets as loaded  # type: ignore[attr-defined,unused-ignore]
    except ImportError as exc:
        raise SetupError(f"the Kibana assets are not available: {exc}") from exc
    return loaded  # type: ignore[no-any-return,unused-ignore]


def setup(es_url: str | None = None, kibana_url: str | None = None, *, api_key: str | None = None,
          username: str | None = None, password: str | None = None, cloud_id: str | None = None,
          ca_certs: str | None = None, kibana_space: str | None = None, dry_run_dir: str | Path | None = None,
          dry_run_license: str = "basic", webhook_url: str | None = None, throttle: str = DEFAULT_THROTTLE,
          retention_days: int = templates.DEFAULT_RETENTION_DAYS,
          findings_retention_days: int = templates.DEFAULT_FINDINGS_RETENTION_DAYS,
          baselines: Iterable[Baseline] = (), alerting: Alerting = "auto", transport: Transport | None = None,
          assets: Assets | None = None, verify_certs: bool | None = None,
          headers: Mapping[str, str] | None = None) -> SetupReport:
    """Install everything modelspan needs in Elasticsearch and Kibana; returns what it did.

    Raises :class:`SetupError` with the reason (unreachable URL, 401, 403 naming the privilege,
    version below 8.17, missing licence for ``alerting="watcher"``). Running it twice is safe: the
    second run only reads. Connection arguments fall back to the environment exactly as the
    exporter's do (``modelspan.elasticsearch.connection``).
    """
    baselines = list(baselines)
    templates.merged_feature_mappings(baselines)  # a type clash fails before anything is sent
    templates.ilm_policies(retention_days, findings_retention_days)
    session, has_kibana = _connect(es_url, kibana_url, {
        "api_key": api_key, "username": username, "password": password, "cloud_id": cloud_id, "ca_certs": ca_certs,
        "kibana_space": kibana_space, "dry_run_dir": dry_run_dir, "dry_run_license": dry_run_license,
        "transport": transport, "verify_certs": verify_certs, "headers": headers})
    builtin = _check_cluster(session)
    _choose_alerting(session, alerting, has_kibana)
    _check_alert_targets(session, webhook_url)
    if has_kibana:
        _kibana.check_kibana(session)
    # Every asset is built (and a bad webhook URL or throttle refused) before the first write.
    loaded = _load_assets(assets)
    saved = loaded.saved_objects() if has_kibana else b""
    _kibana.parse_ndjson(saved)
    watches = loaded.watches(webhook_url=webhook_url, throttle=throttle) if session.report.alerting == "watcher" else {}
    connectors = _kibana.connectors(webhook_url) if session.report.alerting == "rules" else {}
    rules = _rules(loaded, webhook_url, throttle, connectors) if connectors else {}
    _install_templates(session, builtin, baselines, retention_days, findings_retention_days)
    _install_indices(session)
    if has_kibana:
        _kibana.install_saved_objects(session, saved)
    _install_watches(session, watches)
    _kibana.install_connectors(session, connectors)
    _kibana.install_rules(session, rules)
    return session.report


def teardown(es_url: str | None = None, kibana_url: str | None = None, *, delete_data: bool = False,
             api_key: str | None = None, username: str | None = None, password: str | None = None,
             cloud_id: str | None = None, ca_certs: str | None = None, kibana_space: str | None = None,
             dry_run_dir: str | Path | None = None, dry_run_license: str = "basic",
             transport: Transport | None = None, assets: Assets | None = None, verify_certs: bool | None = None,
             headers: Mapping[str, str] | None = None) -> SetupReport:
    """Remove what :func:`setup` installs; the data and its ILM policies only with ``delete_data``."""
    session, has_kibana = _connect(es_url, kibana_url, {
        "api_key": api_key, "username": username, "password": password, "cloud_id": cloud_id, "ca_certs": ca_certs,
        "kibana_space": kibana_space, "dry_run_dir": dry_run_dir, "dry_run_license": dry_run_license,
        "transport": transport, "verify_certs": verify_certs, "headers": headers})
    session.report.version = check_version("elasticsearch", session.es("GET", "/", MONITOR).body, MIN_VERSION)
    licence = (session.es("GET", "/_license", MONITOR).body or {}).get("license", {})
    session.report.license = licence.get("type", "unknown")
    loaded = _load_assets(assets)
    if _watcher_allowed(session):
        for watch_id in loaded.watches():
            _delete(session, "watch", f"/_watcher/watch/{quote(watch_id)}", WATCHER)
    if has_kibana:
        for rule_id in _rules(loaded, None, DEFAULT_THROTTLE, {}):
            _kibana.remove(session, "rule", f"/api/alerting/rule/{quote(rule_id)}", _kibana.RULES)
        for connector_id in _kibana.connectors("https://unused"):
            _kibana.remove(session, "connector", f"/api/actions/connector/{quote(connector_id)}", _kibana.CONNECTORS)
        _kibana.remove_saved_objects(session, loaded.saved_objects())
    if delete_data:
        _delete_data(session)
    for name in templates.index_templates():
        _delete(session, "index template", f"/_index_template/{quote(name)}", TEMPLATES)
    for name in templates.component_templates():
        _delete(session, "component template", f"/_component_template/{quote(name)}", TEMPLATES)
    for name in templates.ilm_policies():
        if delete_data:
            _delete(session, "ILM policy", f"/_ilm/policy/{quote(name)}", ILM)
        else:
            session.record("kept", "ILM policy", name, "it still governs the data; --delete-data removes both")
    return session.report


def _delete(session: Session, kind: str, path: str, privilege: str) -> None:
    answer = session.es("DELETE", path, privilege, expect=(200, 404))
    session.record("absent" if answer.status == 404 else "deleted", kind, path.rsplit("/", 1)[-1])


def _delete_data(session: Session) -> None:
    """Delete the span and profile data streams and modelspan's indices by name (wildcard deletes are refused)."""
    for pattern in (layout.SPANS_PATTERN, profiles.PATTERN):
        streams = session.es("GET", f"/_data_stream/{quote(pattern)}", DELETE_INDEX, expect=(200, 404))
        for stream in (streams.body or {}).get("data_streams", []) if streams.status == 200 else []:
            _delete(session, "data stream", f"/_data_stream/{quote(stream['name'])}", DELETE_INDEX)
    aliased = session.es("GET", f"/_alias/{quote(layout.FINDINGS_INDEX)}", DELETE_INDEX, expect=(200, 404))
    for index in sorted(aliased.body or {}) if aliased.status == 200 else []:
        _delete(session, "index", f"/{quote(index)}", DELETE_INDEX)
    for index in (layout.OUTCOMES_INDEX, layout.BASELINES_INDEX, layout.CHECKPOINTS_INDEX):
        _delete(session, "index", f"/{quote(index)}", DELETE_INDEX)
