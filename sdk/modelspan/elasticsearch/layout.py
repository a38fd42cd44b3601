"""Where modelspan's data lives in Elasticsearch, and the names of the document fields it reads.

The one home of the Elasticsearch data layout: the exporter, the analyzer's store, incident
correlation, ``modelspan elastic setup`` (templates, roles, teardown) and the Kibana generator
import these names instead of spelling them.

Spans are the OTel Collector's ``otel`` mapping-mode documents (``docs/architecture.md``: one
document shape): ``traces-<dataset>.otel-<namespace>`` data streams, core fields at the top
(``@timestamp``, ``trace_id``, ``duration`` in ns, ``status.code``...), span attributes under
``attributes.`` and resource attributes under ``resource.attributes.``. Model and module spans carry
``data_stream.dataset=modelspan`` and land in ``traces-modelspan.otel-<namespace>``; application
spans of the same provider land in ``traces-generic.otel-<namespace>``.

Findings, outcomes, baselines and checkpoints are modelspan's own indices (``modelspan-*``).

>>> data_stream("traces", "modelspan", "prod")
'traces-modelspan.otel-prod'
>>> attr(semconv.MODEL_NAME)
'attributes.ml.model.name'
"""

from __future__ import annotations

from typing import Final

from modelspan import findings, semconv

# --- Data streams -------------------------------------------------------------------------------
DATASET_KEY: Final = semconv.DATA_STREAM_DATASET
"""Span, scope or resource attribute that picks the dataset (``modelspan`` on model spans)."""
NAMESPACE_KEY: Final = semconv.DATA_STREAM_NAMESPACE
MODELSPAN_DATASET: Final = semconv.MODELSPAN_DATASET
DEFAULT_DATASET: Final = "generic"
"""Dataset of spans that name none (the application's own spans), as the collector routes them."""
DEFAULT_NAMESPACE: Final = "default"
OTEL_SUFFIX: Final = ".otel"
"""Every data stream the collector's ``otel`` mode writes ends its dataset with ``.otel``."""


def data_stream(kind: str, dataset: str, namespace: str) -> str:
    """Name of the data stream of ``kind`` (``traces``, ``logs``) for ``dataset`` and ``namespace``."""
    return f"{kind}-{dataset}{OTEL_SUFFIX}-{namespace}"


SPANS_PATTERN: Final = data_stream("traces", MODELSPAN_DATASET, "*")
"""Model and module spans (both export paths route them here): ``traces-modelspan.otel-*``."""
APPLICATION_SPANS: Final = data_stream("traces", DEFAULT_DATASET, "*")
"""Spans of the application's own instrumentation that name no dataset: ``traces-generic.otel-*``."""
ALL_SPANS: Final = data_stream("traces", "*", "*")
"""Every OTel trace data stream (incident correlation reads model and application spans together)."""
SPAN_EVENTS: Final = (data_stream("logs", MODELSPAN_DATASET, "*"), data_stream("logs", DEFAULT_DATASET, "*"))
"""Span events are separate log documents, routed like their span (as the collector does)."""

# --- modelspan's own indices ----------------------------------------------------------------------
# The findings and outcomes names belong to the backend-neutral vocabulary of findings documents
# (``modelspan.findings``, which imports nothing); Elasticsearch code reads them here.
FINDINGS_INDEX: Final = findings.FINDINGS_INDEX
"""Write alias of the findings indices (a rollover series ``modelspan-findings-000001``, ...)."""
OUTCOMES_INDEX: Final = findings.OUTCOMES_INDEX
"""Ground-truth labels, one document per prediction id (``record_outcome``)."""
BASELINES_INDEX: Final = "modelspan-baselines"
"""Baseline profiles, one document per ``<model>:<version>``."""
CHECKPOINTS_INDEX: Final = "modelspan-checkpoints"
"""The analyzer's scheduler checkpoints, one document per name."""
OWN_INDICES: Final = "modelspan-*"
"""Every index above (the installer's and the roles' index pattern)."""

# --- Span document core fields (collector ``otel`` mode; see Elastic's ``traces-otel@mappings``) ---
TIMESTAMP: Final = findings.TIMESTAMP  # every document's time field, spans and findings alike
TRACE_ID: Final = "trace_id"
SPAN_ID: Final = "span_id"
PARENT_SPAN_ID: Final = "parent_span_id"
NAME: Final = "name"
KIND: Final = "kind"
KIND_SERVER: Final = "Server"
DURATION: Final = "duration"
"""Nanoseconds (``long``)."""
STATUS_CODE: Final = "status.code"
STATUS_ERROR: Final = "Error"
ATTRIBUTES: Final = "attributes"
RESOURCE_ATTRIBUTES: Final = "resource.attributes"
SERVICE_NAME: Final = f"{RESOURCE_ATTRIBUTES}.service.name"


def attr(name: str) -> str:
    """Document field of span attribute ``name`` (``attributes.`` + the semconv name).

    >>> attr("http.route")
    'attributes.http.route'
    """
    return f"{ATTRIBUTES}.{name}"


HTTP_ROUTE: Final = attr("http.route")
HTTP_RESPONSE_STATUS: Final = attr("http.response.status_code")
HTTP_STATUS_OLD: Final = attr("http.status_code")
"""The pre-1.21 semantic-convention name some instrumentations still write."""
