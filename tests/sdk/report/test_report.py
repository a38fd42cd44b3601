"""The HTML report, from a real store filled by a short demo run, rendered by headless Chromium."""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from modelspan.demo import SERVICE_NAME, DemoResult, run_demo
from modelspan.instrumentation import _config
from modelspan.report import collect, render
from tests.sdk.report import png

SECTIONS = ("overview", "latency", "qps", "modules", "drift", "distributions", "data_quality", "paths",
            "model_performance")
"""Every per-model chart section; each must hold drawn data after the demo."""


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DemoResult, Path]]:
    folder = tmp_path_factory.mktemp("report")
    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    with pytest.MonkeyPatch.context() as patch:
        for name in ("ELASTICSEARCH_URL", "ELASTICSEARCH_CLOUD_ID", "MODELSPAN_EXPORTER", "OTEL_TRACES_EXPORTER"):
            patch.delenv(name, raising=False)
        try:
            result = run_demo(folder / "demo.db", duration=15.0, rate=40.0, report_path=None,
                              stream=io.StringIO(), tracer_provider=provider)
        finally:
            provider.shutdown()
            _config.STATE.baselines.clear()
            _config.STATE.namespace = None  # configure(environment="demo") must not leak into other tests
    yield result, folder


class Marks(HTMLParser):
    """Per ``data-chart`` section: drawn marks with data (paths with ``d``, bars with a size)."""

    def __init__(self) -> None:
        super().__init__()
        self.section: str | None = None
        self.depth = 0
        self.marks: dict[str, int] = {}
        self.rows: dict[str, int] = {}
        self.external: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for name in ("src", "href"):
            if (attributes.get(name) or "").startswith(("http:", "https:", "//")):
                self.external.append(str(attributes[name]))
        self.scripts += tag == "script"
        if tag == "section" and attributes.get("data-chart"):
            self.section, self.depth = attributes["data-chart"], 0
            self.marks.setdefault(self.section, 0)
            self.rows.setdefault(self.section, 0)
        if self.section is None:
            return
        self.depth += tag == "section"
        path = tag == "path" and len(attributes.get("d") or "") > 3
        bar = tag == "rect" and attributes.get("class") == "bar" and _positive(attributes, "width", "height")
        if path or bar:
            self.marks[self.section] += 1
        elif tag == "tr":
            self.rows[self.section] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "section" and self.section is not None:
            self.depth -= 1
            if self.depth <= 0:
                self.section = None


def _positive(attributes: dict[str, str | None], *names: str) -> bool:
    return all(float(attributes.get(name) or 0) > 0 for name in names)


def _parse(html: str) -> Marks:
    marks = Marks()
    marks.feed(html)
    return marks


@pytest.mark.slow
def test_report_is_self_contained_and_every_chart_has_data(filled: tuple[DemoResult, Path]) -> None:
    result, folder = filled
    from modelspan.store import open_store

    with open_store(result.store) as store:
        path = render(store, result.window, folder / "report.html")
        data = collect(store, result.window)
    html = path.read_text(encoding="utf-8")
    marks = _parse(html)
    assert not marks.external and marks.scripts == 0
    for section in SECTIONS:
        assert marks.marks.get(section, 0) > 0 or section == "overview", (section, marks.marks)
    assert marks.rows["overview"] > 1 and marks.rows["incidents"] > 1
    assert {d.feature for m in data.models for d in m.distributions} >= {"temperature", "device"}
    assert "heat_pump" in html  # the never-seen category is drawn as its own bar


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="headless Chromium (Debian package 'chromium') is not installed")
def test_report_renders_in_headless_chromium(filled: tuple[DemoResult, Path]) -> None:
    result, folder = filled
    from modelspan.store import open_store

    with open_store(result.store) as store:
        path = render(store, result.window, folder / "chromium.html")
    shot = folder / "shot.png"
    common = [str(_chromium()), "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,4000"]
    subprocess.run([*common, f"--screenshot={shot}", path.resolve().as_uri()], check=True, capture_output=True,
                   timeout=60)
    colours = png.colours(shot.read_bytes())
    total = sum(colours.values())
    white = sum(n for c, n in colours.items() if min(c) >= 245)
    assert white / total < 0.97, "the screenshot is (almost) blank"
    assert _near(colours, (0x1F, 0x77, 0xB4)) > 50 and _near(colours, (0xFF, 0x7F, 0x0E)) > 20  # chart colours
    dom = subprocess.run([*common, "--dump-dom", path.resolve().as_uri()], check=True, capture_output=True,
                         timeout=60, text=True).stdout
    marks = _parse(dom)
    for section in SECTIONS[1:]:
        assert marks.marks.get(section, 0) > 0, (section, marks.marks)


def _near(colours: Any, target: tuple[int, int, int], tolerance: int = 12) -> int:
    return sum(n for c, n in colours.items() if all(abs(a - b) <= tolerance for a, b in zip(c, target, strict=True)))


def test_report_command_parses_windows() -> None:
    import argparse
    import datetime as _dt

    from modelspan.commands.report import window_from

    now = _dt.datetime(2026, 11, 22, 12, tzinfo=_dt.timezone.utc)
    args = argparse.Namespace(window="90m", since=None, until=None)
    assert window_from(args, now).iso() == ("2026-11-22T10:30:00.000Z", "2026-11-22T12:00:00.000Z")
    args = argparse.Namespace(window="1h", since="2026-11-22T08:00:00", until="2026-11-22T09:00:00+01:00")
    assert window_from(args).iso() == ("2026-11-22T08:00:00.000Z", "2026-11-22T08:00:00.000Z")
    with pytest.raises(ValueError, match="--window"):
        window_from(argparse.Namespace(window="soon", since=None, until=None))


@pytest.mark.slow
def test_report_command_writes_the_file_for_a_window(filled: tuple[DemoResult, Path],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from modelspan.cli import main

    result, folder = filled
    start, end = result.window.iso()
    out = folder / "cli" / "report.html"
    assert main(["report", "--out", str(out), "--store", result.store, "--since", start, "--until", end]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert _parse(out.read_text(encoding="utf-8")).marks["latency"] > 0
    assert main(["report", "--out", str(out), "--store", result.store, "--since", end, "--until", start]) == 2


@pytest.mark.slow
def test_drift_against_the_training_profile_draws_the_profile_as_reference(filled: tuple[DemoResult, Path]) -> None:
    """Analysed with ``reference="baseline"``, a drifting feature's reference bars are the profile's bins."""
    from modelspan.analyzer import analyze
    from modelspan.store import open_store

    result, folder = filled
    copy = folder / "profile.db"
    shutil.copyfile(result.store, copy)
    with open_store(str(copy)) as store:
        analyze(store, result.phases["unit_change"], reference="baseline")
        data = collect(store, result.phases["unit_change"])
        baseline = store.load_baseline(data.models[0].model, data.models[0].version)
    temperature = [d for d in data.models[0].distributions if d.feature == "temperature"]
    assert len(temperature) == 1 and temperature[0].reference_kind == "baseline profile"
    profile = baseline.features["temperature"]
    expected = [c / sum(profile.bin_counts) for c in profile.bin_counts]
    assert temperature[0].reference == pytest.approx(expected)
    assert temperature[0].current[-1] > 0.9  # Fahrenheit values sit above the last Celsius edge
