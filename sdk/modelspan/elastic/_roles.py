"""Least-privilege Elasticsearch roles for modelspan's writers, its analyzer and its installer.

The bodies are ``PUT /_security/role/<name>`` requests (type-checked as ``RoleBody`` in the tests)
and are explained in ``docs/elastic-roles.md``. Why each privilege:

- the exporter only appends spans: ``create_doc`` (no update, no delete) and ``auto_configure``
  (the first span of a namespace creates its data stream from our template); application spans of
  the same provider go to ``traces-generic.otel-*`` and span events to ``logs-<dataset>.otel-*``;
  profiles (exact per-interval call statistics, docs/profiles.md) to ``metrics-modelspan.profile-*``;
- the analyzer reads spans (model spans and, for incidents, application spans of any dataset),
  profiles and outcomes, and writes findings, baselines and checkpoints by id (``index`` replaces a document);
- the outcomes writer (``record_outcome`` in the service that learns the truth) indexes outcomes;
- the installer (``modelspan elastic setup``) manages templates, ILM, watches, our indices and the
  Kibana objects (feature privileges through the ``kibana-.kibana`` application), and reads what its
  watches and rules search (findings, profiles): both run with their installer's privileges.
"""

from __future__ import annotations

from typing import Any

from modelspan.elasticsearch import layout, profiles, templates

EXPORTER = "modelspan_exporter"
ANALYZER = "modelspan_analyzer"
OUTCOMES_WRITER = "modelspan_outcomes_writer"
INSTALLER = "modelspan_installer"
KIBANA_FEATURES = ("dashboard", "discover", "indexPatterns", "savedObjectsManagement", "stackAlerts", "actions")


def roles() -> dict[str, dict[str, Any]]:
    """Role bodies by role name.

    >>> roles()["modelspan_exporter"]["indices"][0]["privileges"]
    ['create_doc', 'auto_configure']
    """
    meta = {"managed_by": templates.MANAGED_BY}
    findings_indices = [layout.FINDINGS_INDEX, f"{layout.FINDINGS_INDEX}-*"]
    return {
        EXPORTER: {
            "cluster": [],
            "indices": [{"names": [layout.SPANS_PATTERN, layout.APPLICATION_SPANS, *layout.SPAN_EVENTS,
                                   profiles.PATTERN],
                         "privileges": ["create_doc", "auto_configure"]}],
            "metadata": {**meta, "purpose": "ElasticsearchSpanExporter and the OTel Collector: append spans"},
        },
        ANALYZER: {
            "cluster": [],
            "indices": [
                {"names": [layout.ALL_SPANS, profiles.PATTERN, layout.OUTCOMES_INDEX], "privileges": ["read"]},
                {"names": [layout.BASELINES_INDEX, layout.CHECKPOINTS_INDEX], "privileges": ["read", "index"]},
                # re-analysing a window deletes that window's old findings (_delete_by_query) first
                {"names": findings_indices, "privileges": ["read", "index", "delete"]},
            ],
            "metadata": {**meta, "purpose": "modelspan analyze / incidents: read spans and outcomes, write findings"},
        },
        OUTCOMES_WRITER: {
            "cluster": [],
            "indices": [{"names": [layout.OUTCOMES_INDEX], "privileges": ["index"]}],
            "metadata": {**meta, "purpose": "modelspan.record_outcome: ground-truth labels"},
        },
        INSTALLER: {
            "cluster": ["monitor", "manage_index_templates", "manage_ilm", "manage_watcher"],
            "indices": [
                # watches run with the privileges of the user who stored them, and Kibana rules with
                # their creator's API key: what they search (findings, profiles) must be readable
                {"names": [layout.OWN_INDICES], "privileges": ["create_index", "manage", "view_index_metadata",
                                                          "delete_index", "read"]},
                {"names": [profiles.PATTERN], "privileges": ["view_index_metadata", "delete_index", "read"]},
                {"names": [layout.SPANS_PATTERN], "privileges": ["view_index_metadata", "delete_index"]},
            ],
            "applications": [{"application": "kibana-.kibana",
                              "privileges": [f"feature_{name}.all" for name in KIBANA_FEATURES],
                              "resources": ["*"]}],
            "metadata": {**meta, "purpose": "modelspan elastic setup / teardown"},
        },
    }
