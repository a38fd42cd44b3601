"""The SVG primitives: marks where there is data, a visible placeholder where there is none, escaped text."""

from __future__ import annotations

import datetime as _dt
import math
import xml.etree.ElementTree as ET

from modelspan.report import _svg

T0 = _dt.datetime(2026, 11, 22, 10, tzinfo=_dt.timezone.utc)


def _svg_of(markup: str) -> ET.Element:
    return ET.fromstring(markup[: markup.index("</svg>") + 6])


def test_line_chart_draws_each_series_and_skips_gaps() -> None:
    points = [(T0 + _dt.timedelta(seconds=i), float(i)) for i in range(5)]
    gappy = [(T0, 1.0), (T0 + _dt.timedelta(seconds=2), math.nan), (T0 + _dt.timedelta(seconds=4), 3.0)]
    markup = _svg.line_chart("t", [_svg.Series("a", points), _svg.Series("b<c", gappy)], "ms", threshold=2.0)
    root = _svg_of(markup)
    paths = [e for e in root.iter("{http://www.w3.org/2000/svg}path")]
    assert len(paths) == 2 and paths[0].get("d", "").count("L") == 4 and paths[1].get("d", "").count("L") == 1
    assert len([e for e in root.iter("{http://www.w3.org/2000/svg}line") if e.get("class") == "threshold"]) == 1
    assert "b&lt;c" in markup


def test_bars_scale_to_the_largest_value() -> None:
    root = _svg_of(_svg.bar_chart("d", ["x", "y"], [("ref", [0.5, 0.5]), ("cur", [1.0, 0.0])], "share"))
    bars = [e for e in root.iter("{http://www.w3.org/2000/svg}rect") if e.get("class") == "bar"]
    heights = [float(e.get("height", "0")) for e in bars]
    assert len(bars) == 4 and heights[1] == max(heights) and heights[3] == 0.0 and heights[0] < heights[1]


def test_bar_heights_are_proportional_to_the_values_on_one_baseline() -> None:
    values = [0.2, 0.8, 0.4, 0.1]  # (x: ref, cur), (y: ref, cur) in drawing order
    root = _svg_of(_svg.bar_chart("d", ["x", "y"], [("ref", [0.2, 0.4]), ("cur", [0.8, 0.1])], "share"))
    bars = [e for e in root.iter("{http://www.w3.org/2000/svg}rect") if e.get("class") == "bar"]
    heights = [float(e.get("height", "0")) for e in bars]
    bottoms = {round(float(e.get("y", "0")) + float(e.get("height", "0")), 1) for e in bars}
    scale = heights[1] / 0.8
    assert all(abs(h - v * scale) <= 0.1 for h, v in zip(heights, values, strict=True)), heights
    assert len(bottoms) == 1  # every bar stands on the same axis
    # the axis ends at the first tick at or above 1.05 x the largest value, so the tallest bar fills
    # between 1/1.05 of the plot and all of it
    plot = bottoms.pop() - min(float(e.get("y", "0")) for e in root.iter("{http://www.w3.org/2000/svg}line")
                               if e.get("class") != "threshold")
    assert plot > 0 and 0.5 * plot <= heights[1] <= plot / 1.05 + 0.1


def test_stacked_bars_split_each_row_by_share() -> None:
    root = _svg_of(_svg.stacked_bars("p", [("baseline", {"a": 1.0, "b": 3.0}), ("now", {"a": 1.0})]))
    widths = [float(e.get("width", "0")) for e in root.iter("{http://www.w3.org/2000/svg}rect")
              if e.get("class") == "bar"]
    assert len(widths) == 3 and abs(widths[1] - 3 * widths[0]) < 0.2 and abs(widths[2] - (widths[0] + widths[1])) < 0.2


def test_no_data_is_a_visible_note() -> None:
    assert "No data" in _svg.line_chart("x", [], "ms")
    assert "No data" in _svg.bar_chart("x", [], [], "ms")
    assert "No data" in _svg.stacked_bars("x", [("a", {})])


SVG = "{http://www.w3.org/2000/svg}"


def test_many_long_categories_widen_the_chart_and_stand_labels_up_with_their_full_text() -> None:
    names = [f"customer_segment_with_a_long_name_{i:02d}" for i in range(60)]
    root = _svg_of(_svg.bar_chart("c", names, [("ref", [1.0] * 60), ("cur", [2.0] * 60)], "share"))
    assert float(root.get("width", "0")) >= 60 * _svg.MIN_SLOT  # wider, not squeezed
    labels = [e for e in root.iter(f"{SVG}text") if e.get("class") == "tick"]
    assert len(labels) == 60 and all("rotate(-90" in (e.get("transform") or "") for e in labels)
    for label, name in zip(labels, names, strict=True):
        title = label.find(f"{SVG}title")
        assert title is not None and title.text == name  # the full text on hover
        shown = "".join(label.itertext()).removeprefix(name)
        assert "…" in shown and len(shown) * 9 * 0.62 <= _svg.LABEL_ROOM


def test_short_categories_stay_horizontal_and_whole() -> None:
    root = _svg_of(_svg.bar_chart("c", ["a", "b"], [("ref", [1.0, 2.0])], "share"))
    labels = [e for e in root.iter(f"{SVG}text") if e.get("class") == "tick"]
    assert [e.get("transform") for e in labels] == [None, None]
    assert ["".join(e.itertext()) for e in labels] == ["aa", "bb"]  # title text, then the shown text


def test_time_ticks_fall_on_round_times_for_any_span() -> None:
    from modelspan.report import _text

    t0 = _dt.datetime(2026, 11, 21, 12, 3, 7, tzinfo=_dt.timezone.utc)
    for span, step, fmt in ((_dt.timedelta(minutes=5), 60, "%H:%M"), (_dt.timedelta(seconds=40), 10, "%H:%M:%S"),
                            (_dt.timedelta(hours=24), 6 * 3600, "%m-%d %H:%M"), (_dt.timedelta(days=30), 7 * 86400,
                                                                                 "%m-%d")):
        ticks, found = _text.time_ticks(t0, t0 + span)
        assert found == fmt and 2 <= len(ticks) <= 6, span
        assert all(t0 <= t <= t0 + span and t.timestamp() % step == 0 for t in ticks), (span, ticks)


def test_a_five_minute_line_spans_its_axis() -> None:
    points = [(T0 + _dt.timedelta(seconds=10 * i), float(i)) for i in range(30)]
    span = (T0, T0 + _dt.timedelta(minutes=5))
    root = _svg_of(_svg.line_chart("t", [_svg.Series("a", points)], "ms", span=span))
    xs = [float(e.get("cx", "0")) for e in root.iter(f"{SVG}circle")]
    plot = _svg.WIDTH - _svg.LEFT - _svg.RIGHT
    assert min(xs) == _svg.LEFT and max(xs) >= _svg.LEFT + 0.95 * plot
    outside = [(T0 - _dt.timedelta(minutes=1), 5.0), (T0 + _dt.timedelta(minutes=6), 5.0)]
    root = _svg_of(_svg.line_chart("t", [_svg.Series("a", points + outside)], "ms", span=span))
    assert len(list(root.iter(f"{SVG}circle"))) == 30  # points outside the axis are not drawn
