"""Field names of the analyzer's findings documents: the one place that owns them.

The analyzer writes one document per finding to the findings store (the Elasticsearch index
``FINDINGS_INDEX`` or the SQLite table ``findings``); Kibana dashboards, watches, rules, the CLI,
the incident correlator and the HTML report read them. Documents are flat (dotted keys), e.g.::

    {
      "@timestamp": "2026-11-22T10:05:00Z",            # end of the analysed window
      "finding.id": "drift:churn:3:temp:2026-11-22T10:00:00Z",
      "finding.type": "drift", "finding.flagged": true, "finding.severity": "warning",
      "finding.summary": "feature 'temp' drifted (PSI 1.84 >= 0.2, p=1e-12, n=5120)",
      "model.name": "churn", "model.version": "3", "feature.name": "temp",
      "window.start": "...", "window.end": "...", "reference.kind": "baseline",
      "test.name": "psi", "test.score": 1.84, "test.threshold": 0.2,
      "test.p_value": 1e-12, "test.p_value_adjusted": 4e-11,
      "sample.count": 5120, "reference.count": 20000, "trace_ids": ["..."]
    }

``finding.id`` is deterministic (type, model, version, subject, window), so re-analysing a window
replaces its findings instead of duplicating them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

FINDINGS_INDEX: Final = "modelspan-findings"
"""Elasticsearch index (behind this alias) holding findings; SQLite table ``findings``."""
OUTCOMES_INDEX: Final = "modelspan-outcomes"
"""Elasticsearch index holding ground-truth labels (``record_outcome``); SQLite table ``outcomes``."""

TIMESTAMP: Final = "@timestamp"
ID: Final = "finding.id"
TYPE: Final = "finding.type"
FLAGGED: Final = "finding.flagged"
"""True when the finding is a problem to alert on; False for a measurement (e.g. a latency p95)."""
SEVERITY: Final = "finding.severity"
SUMMARY: Final = "finding.summary"
ANALYZED_AT: Final = "finding.analyzed_at"

MODEL_NAME: Final = "model.name"
MODEL_VERSION: Final = "model.version"
MODULE_NAME: Final = "module.name"
FEATURE_NAME: Final = "feature.name"
OUTPUT_LABEL: Final = "output.label"
MODULE_PATH: Final = "module.path"
SERVICE_NAME: Final = "service.name"
ROUTE: Final = "http.route"

WINDOW_START: Final = "window.start"
WINDOW_END: Final = "window.end"
REFERENCE_KIND: Final = "reference.kind"
REFERENCE_START: Final = "reference.start"
REFERENCE_END: Final = "reference.end"

TEST_NAME: Final = "test.name"
TEST_SCORE: Final = "test.score"
TEST_THRESHOLD: Final = "test.threshold"
TEST_P_VALUE: Final = "test.p_value"
TEST_P_VALUE_ADJUSTED: Final = "test.p_value_adjusted"
SAMPLE_COUNT: Final = "sample.count"
REFERENCE_COUNT: Final = "reference.count"

METRIC_NAME: Final = "metric.name"
METRIC_VALUE: Final = "metric.value"
METRIC_REFERENCE_VALUE: Final = "metric.reference_value"
METRIC_LOWER: Final = "metric.lower"
"""Lower edge of the reference band of an estimate (``estimated_performance``: reference - 3 SE)."""
METRIC_UPPER: Final = "metric.upper"
METRIC_SAMPLING_ERROR: Final = "metric.sampling_error"
"""Standard error of ``metric.value`` (an estimate) from the window's size."""
METRIC_ESTIMATED_VALUE: Final = "metric.estimated_value"
"""``estimation_gap``: what was estimated for the labelled rows (``metric.value`` is what was realised)."""
METRIC_ERROR_BOUND: Final = "metric.error_bound"
"""Largest possible difference between ``metric.value`` and its exact per-row value (0 when exact)."""

# metric.name values the analyzer writes and dashboards, watches and rules read
METRIC_QPS: Final = "qps"
METRIC_INTERVAL_QPS: Final = "interval_qps"
METRIC_ERROR_RATE: Final = "error_rate"


def latency_metric(percent: float) -> str:
    """``metric.name`` of a latency percentile in milliseconds.

    >>> latency_metric(95.0)
    'latency_p95_ms'
    """
    return f"latency_p{percent:g}_ms"


METRIC_LATENCY_P95: Final = latency_metric(95.0)

EXPERIMENT_ID: Final = "experiment.id"
"""The experiment of an ``experiment`` finding (``ml.experiment.id``)."""
EXPERIMENT_ARM: Final = "experiment.arm"
EXPERIMENT_CONTROL: Final = "experiment.control"
EXPERIMENT_VERDICT: Final = "experiment.verdict"
"""``win``, ``lose``, ``inconclusive``, ``not_enough_data`` or ``srm`` (docs/experiments.md)."""
EFFECT_LOWER: Final = "effect.lower"
"""Lower end of the always-valid interval of ``metric.value`` (an arm's difference from the control)."""
EFFECT_UPPER: Final = "effect.upper"

TRACE_IDS: Final = "trace_ids"
"""Up to ``MAX_EXAMPLE_TRACES`` example trace ids to inspect."""
MAX_EXAMPLE_TRACES: Final = 10

INCIDENT_KIND: Final = "incident.kind"
"""``correlated``, ``model_only`` or ``application_only``."""
INCIDENT_CORRELATED: Final = "correlated"
INCIDENT_MODEL_ONLY: Final = "model_only"
INCIDENT_APPLICATION_ONLY: Final = "application_only"
INCIDENT_EVIDENCE_SHARE: Final = "incident.evidence.share"
"""Share of failing application requests whose trace holds an implicated model span."""
INCIDENT_EVIDENCE_COUNT: Final = "incident.evidence.count"
"""How many of the failing (or slow) requests' traces show the model problem."""
INCIDENT_EVIDENCE_REASONS: Final = "incident.evidence.reasons"
"""What the traces showed: ``error``, ``out_of_range``, ``drift``, ``latency`` (keywords)."""
INCIDENT_MODEL_FINDINGS: Final = "incident.model_finding_ids"
INCIDENT_APP_FINDINGS: Final = "incident.application_finding_ids"

# finding.type values
TYPE_DRIFT: Final = "drift"
TYPE_PREDICTION_DRIFT: Final = "prediction_drift"
TYPE_DATA_QUALITY: Final = "data_quality"
TYPE_NOVEL_PATH: Final = "novel_path"
TYPE_PATH_DRIFT: Final = "path_drift"
TYPE_LATENCY: Final = "latency"
TYPE_THROUGHPUT: Final = "throughput"
TYPE_ERROR_RATE: Final = "error_rate"
TYPE_PERFORMANCE: Final = "quality"
"""Model performance from late labels (accuracy, MAE, ... and their drops). The stored value stays
``quality`` so findings already written, dashboards and alert rules keep matching; it is *not* data
quality (``TYPE_DATA_QUALITY``: nulls, NaN, out-of-range inputs, ...)."""
TYPE_QUALITY: Final = TYPE_PERFORMANCE
"""Former name of ``TYPE_PERFORMANCE``, kept for code written against it."""
TYPE_APP_ERRORS: Final = "application_errors"
TYPE_APP_LATENCY: Final = "application_latency"
TYPE_INCIDENT: Final = "incident"
TYPE_EXPERIMENT: Final = "experiment"
"""An experiment's SRM check, effects and per-arm verdicts (``modelspan experiment show``)."""
TYPE_ESTIMATED_PERFORMANCE: Final = "estimated_performance"
"""A classifier's performance estimated from its scores before labels arrive (CBPE, docs/estimation.md):
``metric.value`` the estimate, ``metric.lower``/``metric.upper`` the reference band; flagged outside it."""
TYPE_ESTIMATION_GAP: Final = "estimation_gap"
"""Realised (``metric.value``) vs estimated (``metric.estimated_value``) performance of the labelled rows;
flagged when they differ beyond chance: concept drift, which estimation alone cannot see."""
TYPE_DISTRIBUTION: Final = "distribution"
"""Not a problem but the evidence for one: one document per bin (or category) of a drifting column,
``metric.name`` the bin label, ``metric.value`` its current share, ``metric.reference_value`` its
reference share (the drift dashboard and the report draw reference vs current from these)."""

SEVERITIES: Final = ("info", "warning", "critical")
"""``finding.severity``, least to most severe: ``info`` is not a problem (a measurement, or a change
too small or uncertain to flag), ``warning`` a flagged problem, ``critical`` a flagged problem with a
large effect (the rules per finding type are in ``modelspan.analyzer.severity`` and docs/analyzer.md)."""
SEVERITY_RANK: Final = {level: rank for rank, level in enumerate(SEVERITIES)}


def ordered(documents: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Findings as listings show them: most severe first, then the most recent, then by id.

    >>> docs = [{"finding.id": "a", "finding.severity": "warning", "@timestamp": "2026-11-22T10:00:00.000Z"},
    ...         {"finding.id": "b", "finding.severity": "critical", "@timestamp": "2026-11-22T09:00:00.000Z"},
    ...         {"finding.id": "c", "finding.severity": "warning", "@timestamp": "2026-11-22T11:00:00.000Z"}]
    >>> [d["finding.id"] for d in ordered(docs)]
    ['b', 'c', 'a']
    """
    listed = sorted(documents, key=lambda d: str(d.get(ID, "")))
    listed.sort(key=lambda d: (str(d.get(TIMESTAMP) or ""), str(d.get(WINDOW_START) or "")), reverse=True)
    listed.sort(key=lambda d: SEVERITY_RANK.get(str(d.get(SEVERITY)), 0), reverse=True)
    return listed

_KEYWORDS = (
    ID, TYPE, SEVERITY, MODEL_NAME, MODEL_VERSION, MODULE_NAME, FEATURE_NAME, OUTPUT_LABEL,
    MODULE_PATH, SERVICE_NAME, ROUTE, REFERENCE_KIND, TEST_NAME, METRIC_NAME, TRACE_IDS,
    INCIDENT_KIND, INCIDENT_MODEL_FINDINGS, INCIDENT_APP_FINDINGS, INCIDENT_EVIDENCE_REASONS,
    EXPERIMENT_ID, EXPERIMENT_ARM, EXPERIMENT_CONTROL, EXPERIMENT_VERDICT,
)
_DATES = (TIMESTAMP, ANALYZED_AT, WINDOW_START, WINDOW_END, REFERENCE_START, REFERENCE_END)
_DOUBLES = (
    TEST_SCORE, TEST_THRESHOLD, TEST_P_VALUE, TEST_P_VALUE_ADJUSTED, METRIC_VALUE,
    METRIC_REFERENCE_VALUE, INCIDENT_EVIDENCE_SHARE, EFFECT_LOWER, EFFECT_UPPER,
    METRIC_LOWER, METRIC_UPPER, METRIC_SAMPLING_ERROR, METRIC_ESTIMATED_VALUE, METRIC_ERROR_BOUND,
)
_LONGS = (SAMPLE_COUNT, REFERENCE_COUNT, INCIDENT_EVIDENCE_COUNT)


def mapping() -> dict[str, Any]:
    """Elasticsearch mapping of the findings index (``subobjects: false`` keeps keys flat)."""
    properties: dict[str, Any] = {}
    properties.update({name: {"type": "keyword"} for name in _KEYWORDS})
    properties.update({name: {"type": "date"} for name in _DATES})
    properties.update({name: {"type": "double"} for name in _DOUBLES})
    properties.update({name: {"type": "long"} for name in _LONGS})
    properties[FLAGGED] = {"type": "boolean"}
    properties[SUMMARY] = {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 1024}}}
    return {"subobjects": False, "dynamic": "strict", "properties": properties}


def field_names() -> frozenset[str]:
    """Every field a findings document may carry (for tests of dashboards, watches and rules)."""
    return frozenset(mapping()["properties"]) | {SUMMARY + ".keyword"}
