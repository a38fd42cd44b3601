"""Summaries read as sentences with the numbers that matter; every docstring example of the package runs."""

from __future__ import annotations

import datetime as _dt
import doctest
import importlib
from collections import Counter

import pytest

from modelspan import findings as F
from modelspan.analyzer.incidents import _summary
from modelspan.analyzer.incidents._application import Episode
from modelspan.analyzer.incidents._correlate import Verdict

T = _dt.datetime(2026, 11, 22, 10, tzinfo=_dt.timezone.utc)
BURST = Episode("errors", "shop", "POST /checkout", False, T, T, 40, 30, 0.75, 0.02, "reference", 1e-20, None)
SLOW = Episode("latency", "", "/quote", True, T, T, 40, 0, 412.0, 20.0, "window", None, 20.0)


def _verdict(share: float, explained: int, **reasons: int) -> Verdict:
    return Verdict(share, [f"{i:032x}" for i in range(explained)], [("risk", "1")], "scorer", ["amount"],
                   Counter(reasons), [])


def test_correlated_summary_names_model_module_reasons_and_features() -> None:
    text = _summary.incident_summary(BURST, _verdict(0.9, 27, error=25, out_of_range=4), 30)
    assert text == ("errors on POST /checkout on shop: 30 of 40 requests failed (75%, usually 2%). Likely the model: "
                    "in 27 of 30 failing requests (90%) model risk v1 in sub-module 'scorer' was implicated: the model "
                    "raised, an input was outside the baseline's range (features: amount).")


def test_weak_and_absent_evidence_say_so() -> None:
    weak = _summary.incident_summary(BURST, _verdict(0.2, 6, drift=6), 30)
    assert "Probably not the model: in 6 of 30 failing requests (20%)" in weak
    assert "they called a model version whose inputs drifted" in weak
    none = _summary.incident_summary(SLOW, Verdict(0.0, [], [], None, [], Counter(), []), 12)
    assert none == ("slow requests on /quote: p95 412 ms over 40 requests (usually 20 ms). Not the model: none of 12 "
                    "slow requests' traces show a model problem.")


def test_model_only_summary_lists_findings_and_callers() -> None:
    documents = [{F.TYPE: F.TYPE_DRIFT, F.FEATURE_NAME: "age"}, {F.TYPE: F.TYPE_LATENCY, F.MODULE_NAME: "rank"},
                 {F.TYPE: F.TYPE_QUALITY, F.METRIC_NAME: "accuracy"}, {F.TYPE: F.TYPE_NOVEL_PATH}]
    text = _summary.model_only_summary("recommender", "2", documents, [("shop", "POST /recommend", 40),
                                                                       ("", "GET /batch", 3)])
    assert text == ("model recommender v2: drift of 'age', latency of 'rank', quality of 'accuracy' and 1 more; no "
                    "application error or latency spike in the same time shows it hurting requests yet. It serves "
                    "POST /recommend on shop, GET /batch.")


@pytest.mark.parametrize("name", ["analyzer.incidents._application", "analyzer.incidents._find",
                                  "store._sqlite_traces"])
def test_docstring_examples(name: str) -> None:
    # (modules without examples are left out: listed here, they would pass vacuously)
    module = importlib.import_module(f"modelspan.{name}")
    failures, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert failures == 0 and attempted > 0


def test_model_only_without_application_spans_says_the_impact_is_unknown() -> None:
    text = _summary.model_only_summary("churn", "3", [{F.TYPE: F.TYPE_DRIFT, F.FEATURE_NAME: "temp"}], [])
    assert text == ("model churn v3: drift of 'temp'; its calls are not inside instrumented application requests, "
                    "so their effect on requests is unknown.")
