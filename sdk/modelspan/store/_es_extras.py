"""What the Elasticsearch store keeps besides spans: baselines, checkpoints, outcomes, findings read back.

Contract 2 gives every backend the same extra methods; here they are built on ``_search`` and
``_bulk`` only, addressed by document ``_id`` (a ``term`` on ``_id`` works whatever the index
mapping, so a cluster without our templates still answers correctly):

- baselines in ``BASELINES_INDEX``, ``_id`` ``<model>:<version>`` (saving again replaces), the
  profile under ``body`` (kept in ``_source``, not indexed; see ``templates.baselines_mapping``);
- checkpoints in ``CHECKPOINTS_INDEX``, ``_id`` the checkpoint name;
- outcomes in ``OUTCOMES_INDEX``, ``_id`` the prediction id (re-recording replaces);
- findings read back page by page (``search_after`` on ``finding.id``).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Sequence
from typing import Any

from modelspan import findings
from modelspan.baseline import Baseline
from modelspan.elasticsearch.layout import BASELINES_INDEX, CHECKPOINTS_INDEX, TIMESTAMP
from modelspan.store._es_queries import OUTCOME_ACTUAL, OUTCOME_PREDICTION_ID
from modelspan.store.types import Window

FINDINGS_PAGE = 5000
Body = dict[str, Any]

# Field layout as in ``modelspan.elasticsearch.templates`` (baselines_mapping, checkpoints_mapping):
# the profile lives under ``body``, an object Elasticsearch keeps but does not index.


def by_id_body(document_id: str) -> Body:
    """The one document with this ``_id``.

    >>> by_id_body("churn:3")["query"]
    {'term': {'_id': 'churn:3'}}
    """
    return {"size": 1, "track_total_hits": False, "query": {"term": {"_id": document_id}}}


def baseline_id(model: str, version: str) -> str:
    return f"{model}:{version}"


def baseline_operations(baseline: Baseline, index: str = BASELINES_INDEX) -> list[Body]:
    """Bulk lines that store ``baseline`` (replacing the version's previous one)."""
    created = baseline.created_at or _now()
    document = {
        TIMESTAMP: created,
        "model": {"name": baseline.model, "version": baseline.version},
        "baseline": {"id": baseline.id, "created_at": created},
        "body": baseline.to_dict(),
    }
    return [{"index": {"_index": index, "_id": baseline_id(baseline.model, baseline.version)}}, document]


def parse_baseline(response: Body) -> Baseline | None:
    hits = response.get("hits", {}).get("hits", [])
    if not hits:
        return None
    return Baseline.from_dict(hits[0]["_source"]["body"])


def checkpoint_operations(name: str, value: str, index: str = CHECKPOINTS_INDEX) -> list[Body]:
    return [{"index": {"_index": index, "_id": name}},
            {TIMESTAMP: _now(), "name": name, "value": value}]


def parse_checkpoint(response: Body) -> str | None:
    hits = response.get("hits", {}).get("hits", [])
    return str(hits[0]["_source"]["value"]) if hits else None


def outcome_operations(rows: Iterable[Sequence[Any]], index: str) -> list[Body]:
    """Bulk lines for ``(prediction_id, actual[, timestamp])`` rows; ``_id`` is the prediction id."""
    operations: list[Body] = []
    for row in rows:
        prediction_id, actual = str(row[0]), row[1]
        stamp = row[2] if len(row) > 2 and row[2] is not None else _now()
        if isinstance(stamp, _dt.datetime):
            stamp = Window(stamp, stamp).iso()[0]
        operations.append({"index": {"_index": index, "_id": prediction_id}})
        operations.append({TIMESTAMP: stamp, OUTCOME_PREDICTION_ID: prediction_id, OUTCOME_ACTUAL: actual})
    return operations


def findings_body(window: Window | None, types: Sequence[str] | None, model: str | None,
                  after: Sequence[Any] | None = None, size: int = FINDINGS_PAGE) -> Body:
    """One page of findings stamped inside ``window`` (closed: a window's findings carry its end as
    ``@timestamp``, interval findings their interval's start), of ``types``, of ``model``.

    The previous window's findings stamped exactly at ``window.start`` match too: ``types.finding_inside`` keeps
    only the findings of windows within ``window``.
    """
    filters: list[Body] = []
    if window is not None:
        start, end = window.iso()
        filters.append({"range": {findings.TIMESTAMP: {"gte": start, "lte": end,
                                                       "format": "strict_date_optional_time"}}})
    if types:
        filters.append({"terms": {findings.TYPE: list(types)}})
    if model is not None:
        filters.append({"term": {findings.MODEL_NAME: model}})
    body: Body = {"size": size, "track_total_hits": False, "query": {"bool": {"filter": filters}},
                  "sort": [{findings.ID: {"order": "asc"}}]}
    if after:
        body["search_after"] = list(after)
    return body


def analysed_window_query(window: Window, types: Sequence[str], model: str | None = None) -> Body:
    """Findings of ``types`` written for exactly the analysed ``window`` (and ``model``): what a re-run
    of that window replaces, including findings it no longer produces."""
    start, end = window.iso()
    filters: list[Body] = [{"terms": {findings.TYPE: list(types)}}, {"term": {findings.WINDOW_START: start}},
                           {"term": {findings.WINDOW_END: end}}]
    if model is not None:
        filters.append({"term": {findings.MODEL_NAME: model}})
    return {"bool": {"filter": filters}}


def _now() -> str:
    moment = _dt.datetime.now(_dt.timezone.utc)
    return Window(moment, moment).iso()[0]
