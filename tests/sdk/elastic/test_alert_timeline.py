"""Alert timelines: every flagged finding reaches a notification, whatever the throttle.

The watches and rules as installed (``modelspan.elastic.assets``) are replayed against a timeline of
findings written at awkward moments (during a throttle, just after a run, in bursts): a watch run
sees the findings whose time lies in its look-back window and notifies unless throttled; a rule run
sees the hits of its time window that the previous run did not see and notifies per its action
frequency. The windows, schedules and throttles are read from the bodies, not restated here.
"""

from __future__ import annotations

import json
import re

import pytest

from modelspan.elastic import assets

FINDINGS_WATCHES = ["modelspan-drift", "modelspan-novel-path", "modelspan-quality-drop",
                    "modelspan-correlated-incident"]
# Findings written at these seconds after the first run: inside a throttle, right after a run,
# a burst, and one long after.
WRITTEN = [30.0, 290.0, 310.0, 600.0, 601.0, 899.0, 1190.0, 2000.0, 2005.0, 2300.0, 5000.0]


def _watch_lookback(body: dict) -> float:
    for clause in body["input"]["search"]["request"]["body"]["query"]["bool"]["filter"]:
        for spec in clause.get("range", {}).values():
            if spec.get("gte", "").startswith("now-"):
                return assets.seconds(spec["gte"][len("now-"):])
    raise AssertionError("no look-back range in the watch")


def _replay_watch(schedule: float, lookback: float, throttle: float) -> dict[float, int]:
    """How many notifications carried each finding (Watcher: actions throttled after they run)."""
    carried = dict.fromkeys(WRITTEN, 0)
    quiet_until = -1.0
    run = 0.0
    while run <= max(WRITTEN) + lookback + schedule:
        seen = [w for w in WRITTEN if run - lookback <= w < run]
        if seen and run >= quiet_until:
            for written in seen:
                carried[written] += 1
            quiet_until = run + throttle
        run += schedule
    return carried


@pytest.mark.parametrize("throttle", ["5m", "15m", "1h", "90m"])
@pytest.mark.parametrize("watch_id", FINDINGS_WATCHES)
def test_no_finding_is_lost_to_a_watch_throttle(watch_id: str, throttle: str) -> None:
    body = assets.watches(throttle=throttle)[watch_id]
    schedule = assets.seconds(body["trigger"]["schedule"]["interval"])
    lookback = _watch_lookback(body)
    assert lookback >= assets.seconds(body["throttle_period"]) + schedule
    carried = _replay_watch(schedule, lookback, assets.seconds(body["throttle_period"]))
    assert all(count >= 1 for count in carried.values()), carried


def test_the_old_ten_minute_look_back_under_a_fifteen_minute_throttle_lost_findings() -> None:
    """The replay can fail: with the look-back shorter than throttle + schedule, findings are lost."""
    carried = _replay_watch(300.0, 600.0, 900.0)
    assert any(count == 0 for count in carried.values())


def _replay_rule(schedule: float, window: float, throttle: float | None) -> dict[float, int]:
    """Kibana .es-query with excludeHitsFromPreviousRun: a run alerts on hits its previous run did not see."""
    carried = dict.fromkeys(WRITTEN, 0)
    previous: set[float] = set()
    quiet_until = -1.0
    run = 0.0
    while run <= max(WRITTEN) + window + schedule:
        hits = {w for w in WRITTEN if run - window <= w < run}
        new = hits - previous
        previous = hits
        if new and (throttle is None or run >= quiet_until):
            for written in new:
                carried[written] += 1
            if throttle is not None:
                quiet_until = run + throttle
        run += schedule
    return carried


@pytest.mark.parametrize("rule_id", FINDINGS_WATCHES)
def test_every_finding_is_notified_exactly_once_by_a_rule(rule_id: str) -> None:
    body = assets.rules(["log"], throttle="15m", log_connector_id="log")[rule_id]
    params = body["params"]
    assert params["excludeHitsFromPreviousRun"] is True
    unit = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}[params["timeWindowUnit"]]
    window = params["timeWindowSize"] * unit
    schedule = assets.seconds(body["schedule"]["interval"])
    frequency = body["actions"][0]["frequency"]
    assert frequency["notify_when"] == "onActiveAlert"
    throttle = None if frequency["throttle"] is None else assets.seconds(frequency["throttle"])
    carried = _replay_rule(schedule, window, throttle)
    assert set(carried.values()) == {1}, carried
    # The rule's query text has no time range of its own: the rule's window is the only one.
    assert not re.search(r'"gte":\s*"now-', json.dumps(json.loads(params["esQuery"])))


def test_a_throttled_rule_would_have_lost_findings() -> None:
    """The replay can fail: excludeHitsFromPreviousRun plus a 15-minute throttle drops findings."""
    assert any(count == 0 for count in _replay_rule(300.0, 600.0, 900.0).values())
