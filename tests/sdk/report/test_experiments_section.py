"""The report's experiments section: the latest analysis of each experiment, effects as interval plots."""

from __future__ import annotations

import re
from pathlib import Path

from modelspan.analyzer.experiments import analysis
from modelspan.analyzer.experiments.definition import Definition
from modelspan.report import render
from modelspan.store import Window
from modelspan.store._sqlite_experiments import ExperimentCall, stats_from_calls
from modelspan.store.sqlite import SQLiteStore

START, MIDDLE, END = "2026-12-01T00:00:00Z", "2026-12-01T12:00:00Z", "2026-12-02T00:00:00Z"


def _calls(units: int, challenger_errors: int) -> list[ExperimentCall]:
    calls = []
    for i in range(units):
        arm = "challenger" if i % 2 else "champion"
        error = (arm == "challenger" and i % 10 < challenger_errors) or (arm == "champion" and i % 20 == 0)
        calls.append(ExperimentCall(f"p{i}", arm, f"u{i}", False, "ranker", "2" if i % 2 else "1", 5.0 + i % 7,
                                    error, "high", None, None))
    return calls


def test_the_section_draws_the_latest_effects_with_their_intervals(tmp_path: Path) -> None:
    definition = Definition("ranker-v2", {"champion": 0.5, "challenger": 0.5}, "champion", created_at=START)
    # The early analysis had too few units; the late one supersedes it.
    early = analysis.analyse(stats_from_calls(_calls(60, 0)), definition, Window.parse(START, MIDDLE))
    late = analysis.analyse(stats_from_calls(_calls(2000, 4)), definition, Window.parse(START, END))
    with SQLiteStore(tmp_path / "store.db") as store:
        store.write_findings(analysis.findings(early, MIDDLE) + analysis.findings(late, END))
        html = render(store, Window.parse(MIDDLE, END), tmp_path / "report.html").read_text(encoding="utf-8")
    section = html[html.index("<h2>Experiments</h2>"):]
    assert "ranker-v2" in section and "arm challenger vs champion: lose" in section
    assert "not enough data" not in section  # the earlier analysis is superseded
    intervals = re.findall(r'<line class="interval" x1="([\d.]+)" x2="([\d.]+)"', section)
    assert len(intervals) == 2  # error_rate and latency_ms for the one challenger (no labels: no accuracy)
    assert all(float(a) < float(b) for a, b in intervals)


def test_no_experiment_is_said_so(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "store.db") as store:
        html = render(store, Window.parse(START, END), tmp_path / "report.html").read_text(encoding="utf-8")
    assert "No experiment analysed in this window." in html
