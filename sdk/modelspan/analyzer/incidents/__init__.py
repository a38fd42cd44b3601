"""Incidents: application error and latency spikes, correlated with model findings through traces.

Model spans sit inside the application's traces (the official OpenTelemetry HTTP instrumentations
open the server span, ``@modelspan.monitor`` opens a child of it, and W3C trace context carries the
trace across HTTP calls to a model service), so "is it the model?" is answered by looking inside
the traces of the failing requests rather than by lining up two time series.

* ``detect_application_incidents(store, window)``: ``application_errors`` / ``application_latency``
  findings per service and route (rule in ``_application``).
* ``find_incidents(store, window, model_findings)``: those findings plus one ``incident`` finding per
  application episode (``correlated`` or ``application_only``, with ``incident.evidence.share``) and
  per model version whose flagged findings no application incident claimed (``model_only``).

Both stores are supported: SQL over the embedded store's ``spans`` table, aggregations over
``traces-*.otel-*`` in Elasticsearch; either way a run costs a fixed number of queries.
"""

from __future__ import annotations

from modelspan.analyzer.incidents._find import detect_application_incidents, find_incidents

__all__ = ["detect_application_incidents", "find_incidents"]
