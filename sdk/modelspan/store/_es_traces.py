"""The incident correlator's questions (``traces.TraceQueries``) as Elasticsearch aggregations.

They run over every trace data stream (``traces-*.otel-*``).

Application server spans have no ``data_stream.dataset`` of ours (they land in
``traces-generic.otel-<ns>``), model spans land in ``traces-modelspan.otel-<ns>``; the pattern reads
both. Nothing is paged: one search gives every route's series (a terms/terms/date_histogram tree),
one ``_msearch`` gives each episode's affected trace ids (a terms aggregation capped at
``MAX_TRACES``), one ``_msearch`` gives per-trace evidence (terms on ``trace_id`` with filters
beneath), and for model-only incidents two more give each model version's sampled traces and the
routes (root server spans) those traces entered by. Bodies are pure functions, type-checked in
tests against ``estypes.SearchRequest``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modelspan import semconv
from modelspan.elasticsearch.layout import (
    ALL_SPANS,
    DURATION,
    HTTP_RESPONSE_STATUS,
    HTTP_ROUTE,
    HTTP_STATUS_OLD,
    KIND,
    KIND_SERVER,
    NAME,
    PARENT_SPAN_ID,
    SERVICE_NAME,
    STATUS_CODE,
    STATUS_ERROR,
    TIMESTAMP,
    TRACE_ID,
    attr,
)
from modelspan.store.traces import (
    MAX_TRACES,
    ROUTE_PERCENTS,
    Bucket,
    Callers,
    Requests,
    RouteSeries,
    TraceEvidence,
    rank_routes,
)
from modelspan.store.types import StoreError, Window

TRACES_INDEX = ALL_SPANS
MAX_SERVICES = 10
MAX_ROUTES = 50
"""Services x routes x intervals x 2 stays far below ``search.max_buckets`` (65,536)."""
MAX_MODELS = 5
"""Per trace: model names, and versions of each (a request calls a handful of models at most)."""
MAX_MODULES = 30
MAX_FEATURES = 20
"""Per trace; with ``MAX_TRACES`` traces the evidence search stays near 20,000 buckets at worst."""
Body = dict[str, Any]

SERVICE = SERVICE_NAME
ROUTE = HTTP_ROUTE
FAILED: Body = {"bool": {"should": [{"term": {STATUS_CODE: STATUS_ERROR}},
                                    {"range": {HTTP_RESPONSE_STATUS: {"gte": 500}}},
                                    {"range": {HTTP_STATUS_OLD: {"gte": 500}}}],
                         "minimum_should_match": 1}}
NOT_MODEL: Body = {"exists": {"field": attr(semconv.SPAN_KIND)}}
P95 = 95.0


def time_range(window: Window) -> Body:
    start, end = window.iso()
    return {"range": {TIMESTAMP: {"gte": start, "lt": end, "format": "strict_date_optional_time"}}}


def _by_route(per_route: Body | None = None) -> Body:
    """``routed``/``unrouted`` groups: service, then ``http.route`` (or the span name when it is unset)."""
    has_route: Body = {"exists": {"field": ROUTE}}

    def services(route_field: str) -> Body:
        routes: Body = {"terms": {"field": route_field, "size": MAX_ROUTES}}
        if per_route:
            routes["aggs"] = per_route
        return {"terms": {"field": SERVICE, "size": MAX_SERVICES, "missing": ""}, "aggs": {"routes": routes}}

    return {"routed": {"filter": has_route, "aggs": {"services": services(ROUTE)}},
            "unrouted": {"filter": {"bool": {"must_not": [has_route]}}, "aggs": {"services": services(NAME)}}}


def _server(*filters: Body, must_not: Sequence[Body] = ()) -> Body:
    return {"bool": {"filter": [{"term": {KIND: KIND_SERVER}}, *filters], "must_not": [NOT_MODEL, *must_not]}}


def series_body(window: Window, reference: Window, step_s: int) -> Body:
    """Per service and route: errors and p95 per interval of ``window``, and over ``reference``."""
    per_interval: Body = {"errors": {"filter": FAILED},
                          "latency": {"percentiles": {"field": DURATION, "percents": list(ROUTE_PERCENTS)}}}
    per_route: Body = {
        "reference": {"filter": time_range(reference), "aggs": per_interval},
        "window": {"filter": time_range(window), "aggs": {"intervals": {
            "date_histogram": {"field": TIMESTAMP, "fixed_interval": f"{step_s}s", "min_doc_count": 1},
            "aggs": per_interval}}},
    }

    in_either = {"bool": {"should": [time_range(window), time_range(reference)], "minimum_should_match": 1}}
    return {"size": 0, "track_total_hits": False, "query": _server(in_either), "aggs": _by_route(per_route)}


def affected_body(episode: Requests) -> Body:
    """Trace ids of the episode's failed (or slow) requests, most affected first, then by id."""
    span = Window(episode.start, episode.end)
    selector = FAILED if episode.kind == "errors" else {
        "range": {DURATION: {"gt": int((episode.slow_ms or 0.0) * 1e6)}}}
    service: list[Body] = [{"term": {SERVICE: episode.service}}] if episode.service else []
    no_service: list[Body] = [] if episode.service else [{"exists": {"field": SERVICE}}]
    route = {"term": {ROUTE if episode.routed else NAME: episode.route}}
    return {
        "size": 0,
        "track_total_hits": False,
        "query": _server(time_range(span), route, selector, *service, must_not=no_service),
        "aggs": {"traces": {"terms": {"field": TRACE_ID, "size": MAX_TRACES,
                                      "order": [{"_count": "desc"}, {"_key": "asc"}]}}},
    }


def evidence_body(trace_ids: Sequence[str]) -> Body:
    """Per trace: model versions called, failed model/module spans, out-of-range inputs, module times."""
    kind_is = {k: {"term": {attr(semconv.SPAN_KIND): k}} for k in (semconv.SPAN_KIND_MODEL, semconv.SPAN_KIND_MODULE)}
    failed: Body = {"term": {STATUS_CODE: STATUS_ERROR}}
    versions = {"terms": {"field": attr(semconv.MODEL_VERSION), "size": MAX_MODELS, "missing": ""}}
    per_trace: Body = {
        "models": {"filter": kind_is[semconv.SPAN_KIND_MODEL], "aggs": {"names": {
            "terms": {"field": attr(semconv.MODEL_NAME), "size": MAX_MODELS, "missing": ""},
            "aggs": {"versions": versions}}}},
        "model_errors": {"filter": {"bool": {"filter": [kind_is[semconv.SPAN_KIND_MODEL], failed]}}},
        "out_of_range": {"filter": {"range": {attr(semconv.quality_count(semconv.CHECK_OUT_OF_RANGE)): {"gt": 0}}},
                         "aggs": {"features": {"terms": {
                             "field": attr(semconv.quality_features(semconv.CHECK_OUT_OF_RANGE)),
                             "size": MAX_FEATURES}}}},
        "error_modules": {"filter": {"bool": {"filter": [kind_is[semconv.SPAN_KIND_MODULE], failed]}},
                          "aggs": {"names": {"terms": {"field": attr(semconv.MODULE_NAME), "size": MAX_MODULES},
                                             "aggs": {"fastest": {"min": {"field": DURATION}}}}}},
        "modules": {"filter": kind_is[semconv.SPAN_KIND_MODULE],
                    "aggs": {"names": {"terms": {"field": attr(semconv.MODULE_NAME), "size": MAX_MODULES},
                                       "aggs": {"slowest": {"max": {"field": DURATION}}}}}},
    }
    return {
        "size": 0,
        "track_total_hits": False,
        "query": {"bool": {"filter": [{"terms": {TRACE_ID: list(trace_ids)}},
                                      {"exists": {"field": attr(semconv.SPAN_KIND)}}]}},
        "aggs": {"traces": {"terms": {"field": TRACE_ID, "size": max(1, len(trace_ids))}, "aggs": per_trace}},
    }


def model_traces_body(window: Window, model: str, version: str) -> Body:
    """Sampled trace ids that called ``model`` ``version`` in ``window`` (most calls first, then by id)."""
    return {
        "size": 0,
        "track_total_hits": False,
        "query": {"bool": {"filter": [time_range(window), {"term": {attr(semconv.SPAN_KIND): semconv.SPAN_KIND_MODEL}},
                                      {"term": {attr(semconv.MODEL_NAME): model}},
                                      {"term": {attr(semconv.MODEL_VERSION): version}}]}},
        "aggs": {"traces": {"terms": {"field": TRACE_ID, "size": MAX_TRACES,
                                      "order": [{"_count": "desc"}, {"_key": "asc"}]}}},
    }


def entry_routes_body(trace_ids: Sequence[str]) -> Body:
    """The routes by which the traces entered: their root server spans, by service and route."""
    root: Body = {"exists": {"field": PARENT_SPAN_ID}}
    return {"size": 0, "track_total_hits": False,
            "query": _server({"terms": {TRACE_ID: list(trace_ids)}}, must_not=[root]), "aggs": _by_route()}


class ElasticsearchTraces:
    """The incident questions asked of an ``elasticsearch.Elasticsearch`` client."""

    def __init__(self, client: Any, index: str = TRACES_INDEX) -> None:
        self.client = client
        self.index = index

    def route_series(self, window: Window, reference: Window, step_s: int) -> list[RouteSeries]:
        body = series_body(window, reference, step_s)
        response = self.client.search(index=self.index, body=body, ignore_unavailable=True).body
        return parse_series(response.get("aggregations", {}))

    def affected_traces(self, episodes: Sequence[Requests]) -> list[list[str]]:
        responses = self._msearch([affected_body(e) for e in episodes])
        return [[str(b["key"]) for b in r.get("aggregations", {}).get("traces", {}).get("buckets", [])]
                for r in responses]

    def trace_evidence(self, trace_sets: Sequence[Sequence[str]]) -> list[dict[str, TraceEvidence]]:
        asked = [i for i, traces in enumerate(trace_sets) if traces]
        responses = self._msearch([evidence_body(trace_sets[i]) for i in asked])
        answers: list[dict[str, TraceEvidence]] = [{} for _ in trace_sets]
        for i, response in zip(asked, responses, strict=True):
            answers[i] = parse_evidence(response.get("aggregations", {}))
        return answers

    def callers(self, window: Window, models: Sequence[tuple[str, str]]) -> list[Callers]:
        sampled = [[str(b["key"]) for b in r.get("aggregations", {}).get("traces", {}).get("buckets", [])]
                   for r in self._msearch([model_traces_body(window, m, v) for m, v in models])]
        asked = [i for i, traces in enumerate(sampled) if traces]
        routes = self._msearch([entry_routes_body(sampled[i]) for i in asked])
        answers = [Callers(traces, []) for traces in sampled]
        for i, response in zip(asked, routes, strict=True):
            counts = {(service, route): n for service, route, n in _route_counts(response.get("aggregations", {}))}
            answers[i] = Callers(sampled[i], rank_routes(counts))
        return answers

    def _msearch(self, bodies: Sequence[Body]) -> list[dict[str, Any]]:
        if not bodies:
            return []
        searches: list[Body] = []
        for body in bodies:
            searches.extend(({"index": self.index, "ignore_unavailable": True}, body))
        responses: list[dict[str, Any]] = self.client.msearch(searches=searches).body["responses"]
        for response in responses:
            if "error" in response:
                raise StoreError(f"incident search failed: {response['error']}")
        return responses


def _route_counts(aggregations: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(str(service["key"]), str(route["key"]), int(route["doc_count"]))
            for group in ("routed", "unrouted")
            for service in aggregations.get(group, {}).get("services", {}).get("buckets", [])
            for route in service.get("routes", {}).get("buckets", [])]


def parse_series(aggregations: dict[str, Any]) -> list[RouteSeries]:
    series = []
    for group, routed in (("routed", True), ("unrouted", False)):
        for service in aggregations.get(group, {}).get("services", {}).get("buckets", []):
            for route in service.get("routes", {}).get("buckets", []):
                current = route["window"]
                if not current["doc_count"]:
                    continue
                past = route["reference"]
                series.append(RouteSeries(
                    service=str(service["key"]), route=str(route["key"]), routed=routed,
                    reference_calls=int(past["doc_count"]), reference_errors=int(past["errors"]["doc_count"]),
                    reference_p95_ms=_p95_ms(past),
                    buckets=tuple(Bucket(int(b["key"]), int(b["doc_count"]), int(b["errors"]["doc_count"]),
                                         _latency_ms(b))
                                  for b in current["intervals"]["buckets"] if b["doc_count"]),
                ))
    return series


def _latency_ms(bucket: dict[str, Any]) -> tuple[tuple[float, float], ...]:
    values = bucket["latency"]["values"]
    found = ((p, values.get(repr(p), values.get(str(p)))) for p in ROUTE_PERCENTS)
    return tuple((p, float(v) / 1e6) for p, v in found if v is not None)


def _p95_ms(bucket: dict[str, Any]) -> float | None:
    return dict(_latency_ms(bucket)).get(P95)


def parse_evidence(aggregations: dict[str, Any]) -> dict[str, TraceEvidence]:
    found = {}
    for trace in aggregations.get("traces", {}).get("buckets", []):
        evidence = TraceEvidence()
        for name in trace["models"]["names"]["buckets"]:
            evidence.models.update((str(name["key"]), str(v["key"])) for v in name["versions"]["buckets"])
        evidence.model_errors = int(trace["model_errors"]["doc_count"])
        evidence.out_of_range = int(trace["out_of_range"]["doc_count"])
        evidence.out_of_range_features.update(str(b["key"]) for b in trace["out_of_range"]["features"]["buckets"])
        for module in trace["error_modules"]["names"]["buckets"]:
            evidence.error_modules[str(module["key"])] = float(module["fastest"]["value"]) / 1e6
        for module in trace["modules"]["names"]["buckets"]:
            evidence.modules[str(module["key"])] = float(module["slowest"]["value"]) / 1e6
        found[str(trace["key"])] = evidence
    return found

