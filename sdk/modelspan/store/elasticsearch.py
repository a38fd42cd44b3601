"""The analyzer's Elasticsearch store: sufficient statistics by aggregation, findings by bulk index.

Questions are pushed down as aggregations (docs/architecture.md, decision 5). Per analysis run:

- one ``_msearch`` lists the model versions with spans or profiles in the window;
- one ``_msearch`` asks, for every model version and window at once, everything the analyzer needs
  (see ``_es_queries.model_body``), plus the profile search of each (``_es_profiles``: exact calls,
  errors, rows and latency from ``metrics-modelspan.profile-*``, docs/profiles.md) and its per-feature
  profile search (``_es_features``: drift bins, data quality, outputs, module paths), so the number
  of requests grows with neither spans nor features;
- model quality pages the outcomes index and fetches the labelled predictions' outputs: two
  requests per ``LABEL_PAGE`` labels (this one grows with labels, never with spans);
- findings are written with one ``_bulk`` of ``index`` actions whose ``_id`` is ``finding.id``, so
  re-analysing a window replaces its findings.

Configured exactly like the exporter (``modelspan.elasticsearch.connection``): arguments first,
then ``ELASTICSEARCH_URL`` or ``ELASTICSEARCH_CLOUD_ID``, ``ELASTICSEARCH_API_KEY``,
``ELASTICSEARCH_USERNAME``/``ELASTICSEARCH_PASSWORD``, ``ELASTICSEARCH_CA_CERTS``, ... ; unlike the
exporter, it needs a URL or Cloud ID to be given::

    store = ElasticsearchStore("https://es.example:9200", api_key="...")
    for model, version, calls in store.models(window):
        ...
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import modelspan.store._es_estimation as estimation
import modelspan.store._es_extras as extras
import modelspan.store._es_features as feature_queries
import modelspan.store._es_loss as loss
import modelspan.store._es_multiclass as multiclass
import modelspan.store._es_parse as parse
import modelspan.store._es_profiles as profile_queries
import modelspan.store._es_queries as queries
from modelspan import findings
from modelspan.elasticsearch import clients, layout, profiles
from modelspan.elasticsearch.connection import ENV_CLOUD_ID, ENV_URL, resolve_settings
from modelspan.store._answers import parse_model
from modelspan.store._es_traces import ElasticsearchTraces
from modelspan.store.types import (
    DEFAULT_INTERVAL_SECONDS,
    ClassScoreSums,
    LabelledPrediction,
    LossSums,
    ModelStats,
    Question,
    ScoreSums,
    StoreError,
    Window,
    finding_inside,
)

if TYPE_CHECKING:
    from modelspan.baseline import Baseline

BULK_CHUNK = 1000


def client_from_env(
    url: str | None = None,
    *,
    api_key: str | tuple[str, str] | None = None,
    username: str | None = None,
    password: str | None = None,
    cloud_id: str | None = None,
    ca_certs: str | None = None,
    verify_certs: bool | None = None,
    headers: Mapping[str, str] | None = None,
    request_timeout: float = 30.0,
    **extra: Any,
) -> Any:
    """An ``elasticsearch.Elasticsearch`` client from arguments, else the ``ELASTICSEARCH_*`` variables.

    The settings are the exporter's (``modelspan.elasticsearch.connection``), so both send the same
    ``Authorization``. ``extra`` goes to the client as is (``max_retries``, ...).

    >>> client_from_env("http://127.0.0.1:9200").transport.node_pool.get().base_url
    'http://127.0.0.1:9200'
    """
    settings = resolve_settings(url, api_key=api_key, username=username, password=password, cloud_id=cloud_id,
                                ca_certs=ca_certs, verify_certs=verify_certs, headers=headers)
    if not settings.configured:
        raise ValueError(f"no Elasticsearch: pass a URL or set {ENV_URL} (or {ENV_CLOUD_ID})")
    return clients.client(settings, request_timeout=request_timeout, **extra)


class ElasticsearchStore:
    """Read sufficient statistics and labels from Elasticsearch; write findings to it."""

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Any = None,
        spans_index: str = layout.SPANS_PATTERN,
        findings_index: str = layout.FINDINGS_INDEX,
        outcomes_index: str = layout.OUTCOMES_INDEX,
        interval_seconds: int = DEFAULT_INTERVAL_SECONDS,
        label_page: int = queries.LABEL_PAGE,
        baselines_index: str = layout.BASELINES_INDEX,
        checkpoints_index: str = layout.CHECKPOINTS_INDEX,
        profiles_index: str = profiles.PATTERN,
        **client_options: Any,
    ) -> None:
        if interval_seconds <= 0:
            raise ValueError(f"interval_seconds must be positive, got {interval_seconds}")
        self.client = client if client is not None else client_from_env(url, **client_options)
        self.spans_index = spans_index
        self.findings_index = findings_index
        self.outcomes_index = outcomes_index
        self.interval_seconds = interval_seconds
        self.label_page = label_page
        self.baselines_index = baselines_index
        self.checkpoints_index = checkpoints_index
        self.profiles_index = profiles_index

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> ElasticsearchStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def models(self, window: Window) -> list[tuple[str, str, int]]:
        """``(model, version, calls)`` with model spans or profiles in ``window``: one request.

        ``calls`` is the profiled count where the version has profiles (every call), else its spans.
        """
        searches = [{"index": self.spans_index, "ignore_unavailable": True}, queries.models_body(window),
                    {"index": self.profiles_index, "ignore_unavailable": True}, profile_queries.models_body(window)]
        spans, profiled = self.client.msearch(searches=searches).body["responses"]
        for response in (spans, profiled):
            if "error" in response:
                raise StoreError(f"listing the models of the window failed: {response['error']}")
        return profile_queries.merge_counts(parse.parse_models(spans), profile_queries.parse_models(profiled))

    def question(self, model: str, version: str, window: Window, baseline: Baseline | None = None) -> Question:
        """What to ask about a model version: its baseline's columns, bins and categories."""
        return Question.about(model, version, window, self.interval_seconds, baseline)

    def model_stats(self, questions: Sequence[Question]) -> list[ModelStats]:
        """Answers to every question in one ``_msearch`` (however many models, windows, features)."""
        if not questions:
            return []
        searches: list[dict[str, Any]] = []
        planned: list[tuple[Question, bool]] = [queries.plan(question) for question in questions]
        for question, split in planned:
            for part in ("calls", "modules") if split else ("all",):
                searches.append({"index": self.spans_index})
                searches.append(queries.model_body(question, part))
                searches.append({"index": self.profiles_index, "ignore_unavailable": True})
                searches.append(profile_queries.profile_body(question, part))
            searches.append({"index": self.profiles_index, "ignore_unavailable": True})
            searches.append(feature_queries.feature_body(question))
        responses = iter(self.client.msearch(searches=searches).body["responses"])
        return [self._answer(question, [next(responses) for _ in range(5 if split else 3)])
                for question, split in planned]

    def _answer(self, question: Question, responses: list[dict[str, Any]]) -> ModelStats:
        """The span answer (every other response) with the profile answers laid over it; the last
        response is the per-feature profile search (``_es_features``)."""
        for response in responses:
            if "error" in response:
                raise StoreError(f"search for {question.model} {question.version} failed: {response['error']}")
        *pairs, features = responses
        spans, profiled = pairs[0::2], pairs[1::2]
        aggs = {k: v for r in spans for k, v in r.get("aggregations", {}).items()}
        found = {k: v for r in profiled for k, v in r.get("aggregations", {}).items()}
        whole = profile_queries.whole_intervals(question.window)
        if not whole:
            found = {}  # the window cuts a profile interval: spans answer it (docs/profiles.md)
        if "calls" in aggs or "calls" in found:
            profile_queries.overlay(aggs.setdefault("calls", {}), found.get("calls"))
        if "modules" in aggs or "modules" in found:
            profile_queries.overlay_modules(aggs.setdefault("modules", {}), found.get("modules"))
        by_feature = feature_queries.profiled(question, features.get("aggregations", {})) if whole else None
        if by_feature is not None:  # every call's features, paths and checks; else the sampled spans'
            feature_queries.overlay(question, aggs.setdefault("calls", {}), by_feature)
        return parse_model(question, {**spans[0], "aggregations": aggs})

    def score_sums(self, window: Window, model: str, version: str, edges: Sequence[float],
                   calibration: str | None = None) -> ScoreSums:
        """Rows and score sums of ``window`` per (predicted label, interval of ``edges``): one request."""
        body = estimation.score_sums_body(window, model, version, edges, calibration)
        return estimation.parse_score_sums(self._search(self.spans_index, body), edges)

    def loss_sums(self, window: Window, model: str, version: str) -> LossSums:
        """A regressor's expected-error sums over ``window`` and its unestimated rows: one request."""
        return loss.parse_loss_sums(self._search(self.spans_index, loss.loss_sums_body(window, model, version)))
    def class_score_sums(self, window: Window, model: str, version: str,
                         edges: Sequence[Sequence[float]], calibration: str | None = None) -> ClassScoreSums:
        """Rows and probability sums of ``window`` per (class, predicted it, interval): one request."""
        body = multiclass.class_score_sums_body(window, model, version, edges, calibration)
        return multiclass.parse_class_score_sums(self._search(self.spans_index, body), edges)

    def labelled_predictions(self, window: Window, model: str, version: str) -> list[LabelledPrediction]:
        """Predictions of ``window`` that have a recorded outcome, with their outputs.

        One request per ``label_page`` outcomes recorded since the window started and one per
        ``PREDICTIONS_CHUNK`` span ids (see ``_es_queries``): the join's cost follows the labels,
        not the spans.
        """
        joined: list[LabelledPrediction] = []
        after: list[Any] | None = None
        while True:
            page = self._search(self.outcomes_index, queries.outcomes_body(window, after, self.label_page))
            actuals, after = parse.parse_outcomes(page)
            if actuals:
                ids = parse.span_ids_for(list(actuals))
                # A page of labels names more span ids than labels (each batch adds its base id):
                # ask in chunks, each well inside index.max_result_window.
                for start in range(0, len(ids), queries.PREDICTIONS_CHUNK):
                    chunk = ids[start:start + queries.PREDICTIONS_CHUNK]
                    spans = self._search(self.spans_index, queries.predictions_body(window, model, version, chunk))
                    joined.extend(parse.join_predictions(actuals, spans))
            if after is None or len(page.get("hits", {}).get("hits", [])) < self.label_page:
                return joined

    def traces(self) -> ElasticsearchTraces:
        """The incident correlator's questions, as aggregations over every trace data stream."""
        return ElasticsearchTraces(self.client)

    def refresh(self) -> None:
        """Refresh the span and profile data streams, so the last second of traffic is searchable now.

        (Outcomes and findings are written with ``refresh=wait_for`` already.)
        """
        self.client.indices.refresh(index=[layout.ALL_SPANS, self.profiles_index], ignore_unavailable=True,
                                    allow_no_indices=True)

    def write_findings(self, documents: Iterable[dict[str, Any]]) -> int:
        """Index findings by ``finding.id`` (re-running a window replaces them); returns how many."""
        written = 0
        chunk: list[dict[str, Any]] = []
        for document in documents:
            chunk.append({"index": {"_index": self.findings_index, "_id": document[findings.ID]}})
            chunk.append(document)
            if len(chunk) >= 2 * BULK_CHUNK:
                written += self._bulk(chunk)
                chunk = []
        if chunk:
            written += self._bulk(chunk)
        return written

    def delete_findings(self, window: Window, types: Sequence[str], model: str | None = None) -> int:
        """Remove the findings of ``types`` written for exactly ``window`` (before re-writing it)."""
        response = self.client.delete_by_query(index=self.findings_index, query=extras.analysed_window_query(
            window, types, model), refresh=True, conflicts="proceed", ignore_unavailable=True).body
        return int(response.get("deleted", 0))

    def _bulk(self, operations: list[dict[str, Any]]) -> int:
        response = self.client.bulk(operations=operations, refresh="wait_for").body
        if response.get("errors"):
            failed = [item for item in response["items"] if "error" in next(iter(item.values()))]
            raise StoreError(f"{len(failed)} findings were not written: {failed[:3]}")
        return len(operations) // 2

    def _search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = self.client.search(index=index, body=body, ignore_unavailable=True).body
        return response

    # --- Contract 2 extras: baselines, checkpoints, outcomes, findings read back (see _es_extras) ---

    def save_baseline(self, baseline: Baseline) -> None:
        """Store ``baseline`` for its model version (replacing the previous one)."""
        self._bulk(extras.baseline_operations(baseline, self.baselines_index))

    def load_baseline(self, model: str, version: str) -> Baseline | None:
        """The stored baseline of a model version, or None: one search."""
        response = self._search(self.baselines_index, extras.by_id_body(extras.baseline_id(model, version)))
        return extras.parse_baseline(response)

    def get_checkpoint(self, name: str) -> str | None:
        return extras.parse_checkpoint(self._search(self.checkpoints_index, extras.by_id_body(name)))

    def set_checkpoint(self, name: str, value: str) -> None:
        self._bulk(extras.checkpoint_operations(name, value, self.checkpoints_index))

    def record_outcomes(self, rows: Iterable[Sequence[Any]]) -> int:
        """Index ``(prediction_id, actual[, timestamp])`` rows by prediction id; returns how many."""
        operations = extras.outcome_operations(rows, self.outcomes_index)
        written = 0
        for start in range(0, len(operations), 2 * BULK_CHUNK):
            written += self._bulk(operations[start:start + 2 * BULK_CHUNK])
        return written

    def read_findings(self, window: Window | None = None, types: Sequence[str] | None = None,
                      model: str | None = None) -> list[dict[str, Any]]:
        """Findings of the windows inside ``window`` (of ``types``, of ``model``), by ``finding.id``."""
        found: list[dict[str, Any]] = []
        after: list[Any] | None = None
        while True:
            page = self._search(self.findings_index, extras.findings_body(window, types, model, after))
            hits = page.get("hits", {}).get("hits", [])
            found.extend({k: v for k, v in hit["_source"].items() if k != "_id"} for hit in hits
                         if finding_inside(hit["_source"], window))
            if len(hits) < extras.FINDINGS_PAGE:
                return found
            after = list(hits[-1].get("sort", []))


__all__ = ["ElasticsearchStore", "StoreError", "client_from_env"]
