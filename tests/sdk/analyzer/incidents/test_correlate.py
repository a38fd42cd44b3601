"""Weighing the traces of affected requests: each kind of evidence, the implicated sub-module, time overlap."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from modelspan import findings as F
from modelspan.analyzer.incidents._correlate import TraceEvidence, flagged_model_findings, overlaps, weigh

START = _dt.datetime(2026, 11, 22, 10, 0, tzinfo=_dt.timezone.utc)
END = START + _dt.timedelta(minutes=5)


def _finding(kind: str, model: str = "risk", version: str = "1", minutes: tuple[int, int] = (0, 60),
             **extra: Any) -> dict[str, Any]:
    start, end = (START + _dt.timedelta(minutes=m) for m in minutes)
    return {F.ID: f"{kind}:{model}:{version}:{minutes[0]}", F.TYPE: kind, F.FLAGGED: True, F.MODEL_NAME: model,
            F.MODEL_VERSION: version, F.WINDOW_START: start.isoformat(), F.WINDOW_END: end.isoformat(), **extra}


def test_the_deepest_failing_module_is_implicated() -> None:
    # an exception raised in 'scorer' also fails the enclosing 'pipeline' span; the inner one is shorter
    nested = TraceEvidence(models={("risk", "1")}, model_errors=1, error_modules={"pipeline": 40.0, "scorer": 2.5})
    other = TraceEvidence(models={("risk", "1")}, model_errors=1, error_modules={"pipeline": 38.0, "scorer": 1.0})
    verdict = weigh("errors", START, END, ["a", "b", "c", "d"], {"a": nested, "b": other}, [])
    assert verdict.share == 0.5 and verdict.explained == ["a", "b"]
    assert verdict.module == "scorer" and verdict.models == [("risk", "1")]
    assert verdict.reasons == {"error": 2}


def test_out_of_range_inputs_explain_a_failure_and_name_the_features() -> None:
    seen = TraceEvidence(models={("risk", "1")}, out_of_range=1, out_of_range_features={"amount"})
    clean = TraceEvidence(models={("risk", "1")}, modules={"scorer": 3.0})
    verdict = weigh("errors", START, END, ["a", "b"], {"a": seen, "b": clean}, [])
    assert verdict.explained == ["a"] and verdict.features == ["amount"] and verdict.module is None
    assert verdict.reasons == {"out_of_range": 1}


def test_calling_a_drifted_model_does_not_explain_failed_requests() -> None:
    """Issue 12: every call to a drifting version carries the drift, failing or not, so an outage of
    the application's own (a 503 from a tariff service) was put down to the model 100%."""
    calls = {"a": TraceEvidence(models={("risk", "1")}), "b": TraceEvidence(models={("risk", "1")})}
    during = _finding(F.TYPE_DRIFT, **{F.FEATURE_NAME: "amount"})
    verdict = weigh("errors", START, END, ["a", "b"], calls, [during])
    assert verdict.explained == [] and verdict.share == 0.0


def test_drift_findings_of_an_implicated_version_are_linked_while_they_overlap() -> None:
    raised = {"a": TraceEvidence(models={("risk", "1")}, model_errors=1)}
    during = _finding(F.TYPE_DRIFT, **{F.FEATURE_NAME: "amount"})
    verdict = weigh("errors", START, END, ["a"], raised, [during])
    assert verdict.explained == ["a"] and verdict.model_findings == [during] and verdict.features == ["amount"]
    earlier = _finding(F.TYPE_DRIFT, minutes=(-60, 0))
    assert weigh("errors", START, END, ["a"], raised, [earlier]).model_findings == []


def _seen(error: bool = False, **checks: list[str]) -> TraceEvidence:
    evidence = TraceEvidence(models={("risk", "1")}, model_errors=int(error))
    for check, features in checks.items():
        evidence.add_check(check, features)
    return evidence


def test_checks_at_their_usual_rate_explain_nothing() -> None:
    """Out-of-range noise in 30% of the failing requests and in 30% of all calls: not the cause."""
    failing = {f"f{i}": _seen(out_of_range=["noise"]) if i % 10 < 3 else _seen() for i in range(20)}
    control = {f"c{i}": _seen(out_of_range=["noise"]) if i % 10 < 3 else _seen() for i in range(50)}
    verdict = weigh("errors", START, END, list(failing), failing, [], control=control)
    assert verdict.explained == [] and verdict.share == 0.0
    without_control = weigh("errors", START, END, list(failing), failing, [])
    assert without_control.share == 0.3 and without_control.reasons == {"out_of_range": 6}


def test_the_missing_values_that_crashed_the_model_are_cited_not_the_noise() -> None:
    """Issue 12: the summary of a NaN-caused crash cited out-of-range noise features."""
    failing = {f"f{i}": _seen(True, nan=["temperature"], **({"out_of_range": ["x7"]} if i % 4 == 0 else {}))
               for i in range(20)}
    control = {f"c{i}": _seen(**({"out_of_range": ["x7"]} if i % 4 == 0 else {})) for i in range(40)}
    control.update({f"f{i}": failing[f"f{i}"] for i in range(20)})  # the sample holds failing calls too
    verdict = weigh("errors", START, END, list(failing), failing, [], control=control)
    assert verdict.share == 1.0 and verdict.features == ["temperature"]
    assert verdict.reasons == {"error": 20, "nan": 20}


def test_latency_spike_names_the_regressed_sub_module() -> None:
    slow = TraceEvidence(models={("risk", "1")}, modules={"features": 2.0, "scorer": 480.0})
    regressed = _finding(F.TYPE_LATENCY, **{F.MODULE_NAME: "scorer"})
    verdict = weigh("latency", START, END, ["a"], {"a": slow}, [regressed])
    assert verdict.share == 1.0 and verdict.module == "scorer" and verdict.reasons == {"latency": 1}
    # the same module regression says nothing about failed requests
    assert weigh("errors", START, END, ["a"], {"a": slow}, [regressed]).explained == []


def test_no_traces_no_share() -> None:
    assert weigh("errors", START, END, [], {}, []).share == 0.0


def test_overlap_and_flagged_findings() -> None:
    assert overlaps(_finding(F.TYPE_DRIFT, minutes=(4, 10)), START, END)
    assert not overlaps(_finding(F.TYPE_DRIFT, minutes=(5, 10)), START, END)  # half-open windows
    assert overlaps({F.TYPE: F.TYPE_DRIFT}, START, END)  # no window: assume it overlaps
    measured = {**_finding(F.TYPE_LATENCY), F.FLAGGED: False}
    application = {**_finding(F.TYPE_APP_ERRORS)}
    nameless = {**_finding(F.TYPE_DRIFT)}
    del nameless[F.MODEL_NAME]
    drift = _finding(F.TYPE_DRIFT)
    assert flagged_model_findings([measured, application, nameless, drift]) == [drift]


def test_malformed_model_findings_are_ignored_not_fatal() -> None:
    good = _finding(F.TYPE_ERROR_RATE)
    no_id = {k: v for k, v in _finding(F.TYPE_DRIFT).items() if k != F.ID}
    truthy_not_true = {**_finding(F.TYPE_DRIFT), F.FLAGGED: "yes"}
    bad_window = {**_finding(F.TYPE_DRIFT), F.WINDOW_START: "not a date", F.ID: "x"}
    kept = flagged_model_findings([good, no_id, truthy_not_true, bad_window, "junk", None])  # type: ignore[list-item]
    assert kept == [good, bad_window]
    assert overlaps(bad_window, START, END)  # an unreadable window cannot rule a finding out
