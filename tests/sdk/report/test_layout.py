"""The report's layout, measured in headless Chromium: with 1 and with 50 drifting features and for a
5-minute burst, no chart box overlaps another, every chart stays inside its section, captions sit
above their charts, and no label overlaps another or leaves its chart.

The report itself has no JavaScript. The test renders a copy with one script appended that opens
every ``<details>`` and writes ``getBoundingClientRect()`` of each section, figure, caption, chart
and chart label into the DOM, which ``chromium --dump-dom`` prints. Screenshots of the same pages
are checked as the existing screenshot test checks them (not blank, chart colours drawn); set
``MODELSPAN_REPORT_SHOTS=DIR`` to keep them.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from modelspan.report import render
from modelspan.store import Window, open_store
from tests.sdk.report import png, wide
from tests.sdk.report.test_report import _chromium, _near

DAY = Window.parse("2026-11-21T12:00:00Z", "2026-11-22T12:00:00Z")
BURST = Window.parse("2026-11-22T10:20:00Z", "2026-11-22T10:25:00Z")
TOLERANCE = 1.0
"""Pixels two boxes may share before they count as overlapping (anti-aliased edges)."""

MEASURE = """<script>
document.querySelectorAll('details').forEach(d => { d.open = true; });
const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
const out = {sections: [], figures: []};
document.querySelectorAll('section.chart').forEach(s => out.sections.push({
  name: s.dataset.chart, box: box(s),
  charts: [...s.querySelectorAll('svg[role=img]')].map(svg => ({
    box: box(svg), texts: [...svg.querySelectorAll('text')].map(t => ({box: box(t), text: t.textContent}))}))}));
document.querySelectorAll('figure.distribution').forEach(f => out.figures.push({
  box: box(f), caption: box(f.querySelector('figcaption')), chart: box(f.querySelector('svg[role=img]'))}));
const pre = document.createElement('pre'); pre.id = 'geometry'; pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script>"""


@dataclass(frozen=True)
class Case:
    name: str
    features: int
    drifting: int
    traffic: Window


CASES = [
    Case("one_drifting", features=4, drifting=1, traffic=Window.parse("2026-11-22T09:30:00Z", "2026-11-22T11:30:00Z")),
    Case("fifty_drifting", features=50, drifting=50, traffic=Window.parse("2026-11-22T10:00:00Z",
                                                                          "2026-11-22T11:00:00Z")),
    Case("five_minutes", features=4, drifting=1, traffic=BURST),
]


@pytest.fixture(scope="module", params=CASES, ids=lambda case: case.name)
def report(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Case, Path]:
    case: Case = request.param
    folder = tmp_path_factory.mktemp(case.name)
    store = wide.build(folder / "store.db", features=case.features, drifting=case.drifting, burst=case.traffic)
    with open_store(str(store), read_only=True) as opened:
        return case, render(opened, DAY, folder / "report.html")


def overlap(a: Sequence[float], b: Sequence[float]) -> float:
    """Area two ``[left, top, right, bottom]`` boxes share, after ``TOLERANCE`` px on each side."""
    width = min(a[2], b[2]) - max(a[0], b[0]) - TOLERANCE
    height = min(a[3], b[3]) - max(a[1], b[1]) - TOLERANCE
    return max(width, 0.0) * max(height, 0.0)


def inside(inner: Sequence[float], outer: Sequence[float]) -> bool:
    return (inner[0] >= outer[0] - TOLERANCE and inner[1] >= outer[1] - TOLERANCE
            and inner[2] <= outer[2] + TOLERANCE and inner[3] <= outer[3] + TOLERANCE)


def visible(box: Sequence[float]) -> bool:
    return box[2] - box[0] > 0 and box[3] - box[1] > 0


def _geometry(page: Path) -> dict[str, Any]:
    measured = page.with_name("measured.html")
    measured.write_text(page.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    dom = subprocess.run([str(_chromium()), "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,2000",
                          "--dump-dom", measured.resolve().as_uri()], check=True, capture_output=True, timeout=90,
                         text=True).stdout
    found = re.search(r'<pre id="geometry">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    geometry: dict[str, Any] = json.loads(found.group(1).replace("&amp;", "&").replace("&lt;", "<")
                                          .replace("&gt;", ">"))
    return geometry


needs_chromium = pytest.mark.skipif(_chromium() is None,
                                    reason="headless Chromium (Debian package 'chromium') is not installed")


@pytest.mark.slow
@needs_chromium
def test_no_chart_box_overlaps_another_and_labels_stay_readable(report: tuple[Case, Path]) -> None:
    case, page = report
    geometry = _geometry(page)
    sections = geometry["sections"]
    assert {s["name"] for s in sections} >= {"latency", "qps", "drift", "distributions", "data_quality"}
    for a, b in itertools.combinations(sections, 2):
        assert overlap(a["box"], b["box"]) == 0, (a["name"], a["box"], b["name"], b["box"])
    charts = [(s["name"], chart) for s in sections for chart in s["charts"] if visible(chart["box"])]
    for section in sections:
        for chart in section["charts"]:
            assert inside(chart["box"], section["box"]), (section["name"], chart["box"], section["box"])
    for (name_a, a), (name_b, b) in itertools.combinations(charts, 2):
        assert overlap(a["box"], b["box"]) == 0, (name_a, a["box"], name_b, b["box"])
    for name, chart in charts:
        texts = [t for t in chart["texts"] if visible(t["box"])]
        for text in texts:
            assert inside(text["box"], chart["box"]), (name, text, chart["box"])
        for a, b in itertools.combinations(texts, 2):
            assert overlap(a["box"], b["box"]) == 0, (name, a, b)
    figures = geometry["figures"]
    assert len(figures) == case.drifting  # every drifting feature drawn (the folded ones too, opened here)
    for figure in figures:
        assert inside(figure["caption"], figure["box"]) and inside(figure["chart"], figure["box"])
        assert figure["caption"][3] <= figure["chart"][1] + TOLERANCE, figure  # the caption sits above its chart
    for a, b in itertools.combinations(figures, 2):
        assert overlap(a["box"], b["box"]) == 0, (a, b)


@pytest.mark.slow
@needs_chromium
def test_screenshot_shows_the_charts(report: tuple[Case, Path]) -> None:
    case, page = report
    shot = page.with_name(f"report-{case.name}.png")
    subprocess.run([str(_chromium()), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1280,2000", f"--screenshot={shot}", page.resolve().as_uri()], check=True,
                   capture_output=True, timeout=90)
    if os.environ.get("MODELSPAN_REPORT_SHOTS"):
        shutil.copy(shot, Path(os.environ["MODELSPAN_REPORT_SHOTS"]) / shot.name)
    colours = png.colours(shot.read_bytes(), step=11)
    total = sum(colours.values())
    assert sum(n for c, n in colours.items() if min(c) >= 245) / total < 0.97, "the screenshot is (almost) blank"
    assert _near(colours, (0x1F, 0x77, 0xB4)) > 30 and _near(colours, (0xFF, 0x7F, 0x0E)) > 10  # chart colours
    assert _near(colours, (0x16, 0x32, 0x4F)) > 100  # the header that states the window


def test_time_charts_spread_a_five_minute_burst_over_their_axis(tmp_path: Path) -> None:
    """Five minutes of calls in a 24-hour window: the latency points span the plot, with minute ticks."""
    store = wide.build(tmp_path / "burst.db", features=2, drifting=1, burst=BURST, calls=120)
    with open_store(str(store), read_only=True) as opened:
        html = render(opened, DAY, tmp_path / "r.html").read_text(encoding="utf-8")
    latency = html[html.index('data-chart="latency"'):html.index('data-chart="qps"')]
    xs = [float(x) for x in re.findall(r'<circle cx="([\d.]+)"', latency)]
    assert len(xs) >= 3 * 25  # p50, p95, p99 at about 40 intervals, most of them with calls
    assert max(xs) - min(xs) > 0.9 * (560 - 56 - 28)  # spread over the plot, not one dot
    ticks = re.findall(r'<text class="tick"[^>]*><title>([^<]*)</title>', latency)
    assert ticks == ["10:20", "10:21", "10:22", "10:23", "10:24", "10:25"]
    assert 'data-start="2026-11-22T10:20:00.000Z" data-end="2026-11-22T10:25:00.000Z"' in html
    assert "(24 h)" in html and "(5 min)" in html
