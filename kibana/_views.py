"""Data views and the field names the dashboards and alerts read, all derived from the constant modules.

Span fields are ``attributes.<semconv name>`` (the collector's ``otel`` mapping mode, which our
exporter reproduces); data streams and core span fields come from ``modelspan.elasticsearch.layout``,
profile fields from ``modelspan.elasticsearch.profiles`` (the profile data stream's fixed mapping),
findings fields from ``modelspan.findings``. Nothing here spells an ``ml.*`` name, a data stream or
a findings field as a literal.
"""

from __future__ import annotations

from typing import Any

from kibana import _lens
from modelspan import findings, semconv
from modelspan.elasticsearch import layout, profiles

attr = layout.attr

SPANS_VIEW = "modelspan-spans"
SPANS_PATTERN = layout.SPANS_PATTERN
ALL_SPANS_VIEW = "modelspan-all-spans"
ALL_SPANS_PATTERN = layout.ALL_SPANS
PROFILES_VIEW = "modelspan-profiles"
PROFILES_PATTERN = profiles.PATTERN
FINDINGS_VIEW = "modelspan-findings"
FINDINGS_PATTERN = layout.FINDINGS_INDEX + "*"

# OpenTelemetry core fields (collector ``otel`` mode, see traces-otel@mappings).
TIMESTAMP = layout.TIMESTAMP
DURATION = layout.DURATION
STATUS_CODE = layout.STATUS_CODE
STATUS_ERROR = layout.STATUS_ERROR
SPAN_KIND = layout.KIND
SPAN_KIND_SERVER = layout.KIND_SERVER
TRACE_ID = layout.TRACE_ID
SPAN_NAME = layout.NAME
SERVICE = layout.SERVICE_NAME
ROUTE = layout.HTTP_ROUTE

MODEL = attr(semconv.MODEL_NAME)
VERSION = attr(semconv.MODEL_VERSION)
MODULE = attr(semconv.MODULE_NAME)
PATH_KEY = attr(semconv.MODULE_PATH_KEY)
LABEL = attr(semconv.OUTPUT_LABEL)
SCORE = attr(semconv.OUTPUT_SCORE)
VALUE = attr(semconv.OUTPUT_VALUE)
BATCH_SIZE = attr(semconv.BATCH_SIZE)
SAMPLE_RATE = attr(semconv.SAMPLE_RATE)
TRUNCATED = attr(semconv.MODULE_PATH_TRUNCATED)

# Profile documents (every call, whatever the span sample rate): the same model/version field names.
P_CALLS = profiles.CALLS
P_ERRORS = profiles.ERRORS
P_ROWS = profiles.ROWS
P_SPANS = profiles.SPANS
P_DROPPED = profiles.DROPPED
P_LATENCY = profiles.LATENCY
"""``histogram`` of latencies (ns): Lens ``percentile`` reads it as the merged sketch of the documents."""

# Runtime fields of the spans data view: every recorded call stands for 1/sample_rate calls.
CALLS = "modelspan.calls"
ROWS = "modelspan.rows"


def eq(field: str, value: str | bool) -> str:
    """KQL ``field : "value"`` (the only query form the field check in the tests has to parse)."""
    text = str(value).lower() if isinstance(value, bool) else f'"{value}"'
    return f"{field} : {text}"


def any_of(field: str, values: list[str]) -> str:
    return "(" + " or ".join(eq(field, value) for value in values) + ")"


ROOT = eq(attr(semconv.SPAN_KIND), semconv.SPAN_KIND_MODEL)
MODULES = eq(attr(semconv.SPAN_KIND), semconv.SPAN_KIND_MODULE)
ERRORS = eq(STATUS_CODE, STATUS_ERROR)
OPEN = eq(findings.FLAGGED, True)
APP_TYPES = [findings.TYPE_APP_ERRORS, findings.TYPE_APP_LATENCY]
MODEL_PROBLEMS = (f"{OPEN} and not {any_of(findings.TYPE, [*APP_TYPES, findings.TYPE_INCIDENT])}")
APP_SERVER_SPANS = f"{eq(SPAN_KIND, SPAN_KIND_SERVER)} and not {attr(semconv.SPAN_KIND)} : *"
_OPERATIONS = eq(profiles.KIND, profiles.KIND_OPERATIONS)
MODEL_CALLS = f"{_OPERATIONS} and {eq(MODULE, '')}"
"""Profiles of the models' own calls (sub-modules have their own documents)."""
MODULE_CALLS = f"{_OPERATIONS} and not {eq(MODULE, '')}"


def _scaled(numerator: str) -> str:
    """Painless for a runtime field: ``numerator / sample_rate`` (1 when the span has no sample rate)."""
    rate = SAMPLE_RATE
    return (f"double r = doc.containsKey('{rate}') && doc['{rate}'].size() > 0 ? doc['{rate}'].value : 1.0; "
            f"emit({numerator} / (r > 0 ? r : 1.0));")


def _alias(source: str) -> dict[str, Any]:
    """Runtime keyword copying ``source``: lets one model/version control filter spans and findings."""
    script = (f"if (doc.containsKey('{source}') && doc['{source}'].size() > 0) "
              f"{{ emit(doc['{source}'].value); }}")
    return {"type": "keyword", "script": {"source": script}}


def _trace_link(view: str) -> dict[str, Any]:
    """URL field format: a trace id opens every span of that trace (application and model) in Discover."""
    query = f"query:(language:kuery,query:'{TRACE_ID}:{{{{value}}}}')"
    template = f"/app/discover#/?_a=(dataSource:(dataViewId:{view},type:dataView),{query})"
    return {"id": "url", "params": {"type": "a", "urlTemplate": template, "labelTemplate": "{{value}}",
                                    "openLinkInCurrentTab": False}}


_BATCH_ROWS = (f"double n = doc.containsKey('{BATCH_SIZE}') && doc['{BATCH_SIZE}'].size() > 0 ? "
               f"doc['{BATCH_SIZE}'].value : 1.0; ")
_NANOS = {"id": "duration", "params": {"inputFormat": "nanoseconds", "outputFormat": "asMilliseconds",
                                       "outputPrecision": 1, "includeSpaceWithSuffix": True}}


def data_views() -> list[dict[str, Any]]:
    runtime = {
        CALLS: {"type": "double", "script": {"source": _scaled("1.0")}},
        ROWS: {"type": "double", "script": {"source": _BATCH_ROWS + _scaled("n")}},
    }
    spans_formats = {DURATION: _NANOS, TRACE_ID: _trace_link(ALL_SPANS_VIEW)}
    findings_runtime = {MODEL: _alias(findings.MODEL_NAME), VERSION: _alias(findings.MODEL_VERSION)}
    profile_formats = {name: _NANOS for name in (P_LATENCY, profiles.LATENCY_MIN, profiles.LATENCY_MAX)}
    return [
        _lens.data_view(PROFILES_VIEW, PROFILES_PATTERN, "modelspan: profiles (every call)",
                        formats=profile_formats),
        _lens.data_view(SPANS_VIEW, SPANS_PATTERN, "modelspan: model spans", runtime=runtime,
                        formats=spans_formats),
        _lens.data_view(ALL_SPANS_VIEW, ALL_SPANS_PATTERN, "modelspan: all OTel spans (application incidents)",
                        formats={DURATION: _NANOS, TRACE_ID: _trace_link(ALL_SPANS_VIEW)}),
        _lens.data_view(FINDINGS_VIEW, FINDINGS_PATTERN, "modelspan: analyzer findings", runtime=findings_runtime,
                        formats={findings.TRACE_IDS: _trace_link(ALL_SPANS_VIEW),
                                 findings.INCIDENT_EVIDENCE_SHARE: {"id": "percent", "params": {}}}),
    ]
