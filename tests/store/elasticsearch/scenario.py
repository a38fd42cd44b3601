"""One analysis run's worth of backend calls, shared by the request-count and contract tests."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from modelspan import findings, semconv
from modelspan.store import Question, Window
from modelspan.store.elasticsearch import ElasticsearchStore
from tests.store.elasticsearch.traffic import WINDOW, Traffic

REFERENCE = Window(WINDOW.start - _dt.timedelta(days=1), WINDOW.end - _dt.timedelta(days=1))


def questions_for(traffic: Traffic, interval_seconds: int = 600) -> list[Question]:
    store = ElasticsearchStore.__new__(ElasticsearchStore)  # only for .question(): no client needed
    store.interval_seconds = interval_seconds
    return [store.question("churn", "3", WINDOW, traffic.baseline),
            store.question("churn", "3", REFERENCE, traffic.baseline)]


def outcome_documents(traffic: Traffic, every: int = 3) -> list[dict[str, Any]]:
    """Ground truth for every ``every``-th model span (a batch's rows as ``id:i``)."""
    outcomes = []
    models = [d for d in traffic.documents if d["attributes"].get(semconv.SPAN_KIND) == semconv.SPAN_KIND_MODEL]
    for number, document in enumerate(models[::every]):
        attributes = document["attributes"]
        prediction_id = attributes[semconv.PREDICTION_ID]
        ids = ([f"{prediction_id}:{i}" for i in range(len(attributes[semconv.OUTPUT_LABELS]))]
               if semconv.OUTPUT_LABELS in attributes else [prediction_id])
        for row, outcome_id in enumerate(ids):
            outcomes.append({"@timestamp": "2026-11-23T09:00:00Z", "prediction.id": outcome_id,
                             "actual": "yes" if (number + row) % 4 == 0 else "no"})
    return outcomes


def run_analysis(url: str, traffic: Traffic) -> dict[str, Any]:
    """List models, ask every question in one msearch, join labels, write findings back."""
    with ElasticsearchStore(url, interval_seconds=600) as store:
        models = store.models(WINDOW)
        questions = [question for model, version, _ in models
                     for question in questions_for(traffic) if (question.model, question.version) == (model, version)]
        stats = store.model_stats(questions)
        labelled = store.labelled_predictions(WINDOW, "churn", "3")
        documents = [{
            findings.ID: f"latency:{s.model}:{s.version}:{i}", findings.TYPE: findings.TYPE_LATENCY,
            findings.FLAGGED: False, findings.MODEL_NAME: s.model, findings.MODEL_VERSION: s.version,
            findings.METRIC_NAME: "p95", findings.METRIC_VALUE: s.operations.latency_ms[95.0],
            findings.TIMESTAMP: WINDOW.iso()[1],
        } for i, s in enumerate(stats)]
        written = store.write_findings(documents)
    return {"models": models, "stats": stats, "labelled": labelled, "written": written}
