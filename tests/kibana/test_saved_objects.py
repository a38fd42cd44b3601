"""The committed NDJSON: every object parses, every reference resolves, every field a panel reads exists.

Read from the committed file (what users import), not from the generator, so a hand edit that
breaks a reference fails here too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from modelspan.elasticsearch import profiles
from tests.kibana import fields

NDJSON = Path(__file__).resolve().parents[2] / "kibana" / "saved_objects"
RECORDS = "___records___"
BUCKET_TYPES = {"keyword", "boolean", "long", "double", "date", fields.DYNAMIC, "constant_keyword"}
NUMERIC_OPS = {"sum", "average", "max", "min", "percentile", "median", "standard_deviation"}


def _objects() -> list[dict[str, Any]]:
    lines = [line for path in sorted(NDJSON.glob("*.ndjson")) for line in path.read_text().splitlines()]
    return [json.loads(line) for line in lines if line.strip()]


OBJECTS = _objects()
BY_ID = {(item["type"], item["id"]): item for item in OBJECTS}
VIEWS = {item["id"]: item for item in OBJECTS if item["type"] == "index-pattern"}
DASHBOARDS = [item for item in OBJECTS if item["type"] == "dashboard"]


def _runtime(view_id: str) -> dict[str, Any]:
    return dict(json.loads(VIEWS[view_id]["attributes"]["runtimeFieldMap"]))


def field_type(view_id: str, field: str) -> str:
    """Type of ``field`` in data view ``view_id``: a runtime field of the view, or a mapped field."""
    runtime = _runtime(view_id)
    if field in runtime:
        return str(runtime[field]["type"])
    pattern = VIEWS[view_id]["attributes"]["title"]
    if pattern.startswith("modelspan-findings"):
        kind = fields.findings_field_type(field)
    elif pattern == profiles.PATTERN:
        kind = fields.profile_field_type(field)
    else:
        kind = fields.span_field_type(field)
    assert kind is not None, f"data view {view_id} ({pattern}): no field {field!r} in our templates"
    return kind


def test_every_object_is_an_importable_saved_object() -> None:
    assert len(OBJECTS) == len(BY_ID), "duplicate (type, id)"
    for item in OBJECTS:
        assert set(item) >= {"type", "id", "attributes", "references"}, item.get("id")
        assert item["type"] in ("index-pattern", "dashboard", "search"), item["type"]
        for name in ("panelsJSON", "optionsJSON", "runtimeFieldMap", "fieldFormatMap"):
            if name in item["attributes"]:
                json.loads(item["attributes"][name])
    assert {VIEWS[v]["attributes"]["title"] for v in VIEWS} == {
        "traces-modelspan.otel-*", "traces-*.otel-*", "modelspan-findings*", profiles.PATTERN}
    assert len(DASHBOARDS) == 7


def test_data_views_come_before_the_objects_using_them() -> None:
    seen: set[tuple[str, str]] = set()
    for item in OBJECTS:
        for ref in item["references"]:
            assert (ref["type"], ref["id"]) in seen, f"{item['id']} refers to {ref['id']} before it is defined"
        seen.add((item["type"], item["id"]))


@pytest.mark.parametrize("item", OBJECTS, ids=lambda item: item["id"])
def test_every_reference_resolves(item: dict[str, Any]) -> None:
    for ref in item["references"]:
        assert (ref["type"], ref["id"]) in BY_ID, f"{item['id']}: dangling reference {ref}"
    names = [ref["name"] for ref in item["references"]]
    assert len(names) == len(set(names)), f"{item['id']}: duplicate reference names"


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return list(json.loads(dashboard["attributes"]["panelsJSON"]))


def _dashboard_refs(dashboard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {ref["name"]: ref for ref in dashboard["references"]}


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda item: item["id"])
def test_panel_references_resolve_to_data_views_and_searches(dashboard: dict[str, Any]) -> None:
    refs = _dashboard_refs(dashboard)
    used: set[str] = set()
    for panel in _panels(dashboard):
        index = panel["panelIndex"]
        assert panel["gridData"]["i"] == index
        if panel["type"] == "lens":
            attributes = panel["embeddableConfig"]["attributes"]
            for layer_id in attributes["state"]["datasourceStates"]["formBased"]["layers"]:
                name = f"indexpattern-datasource-layer-{layer_id}"
                inner = {ref["name"]: ref for ref in attributes["references"]}
                assert name in inner, f"{attributes['title']}: layer {layer_id} has no data view"
                assert refs[f"{index}:{name}"]["id"] == inner[name]["id"]
                assert inner[name]["id"] in VIEWS
                used.add(f"{index}:{name}")
        elif panel["type"] == "search":
            name = f"{index}:{panel['panelRefName']}"
            assert refs[name]["type"] == "search" and ("search", refs[name]["id"]) in BY_ID
            used.add(name)
        else:
            assert panel["type"] == "visualization" and "savedVis" in panel["embeddableConfig"]
    controls = dashboard["attributes"].get("controlGroupInput")
    if controls:
        for control_id in json.loads(controls["panelsJSON"]):
            name = f"controlGroup_{control_id}:optionsListDataView"
            assert refs[name]["id"] in VIEWS
            used.add(name)
    assert set(refs) == used, f"unused dashboard references: {set(refs) - used}"


def _lens_panels() -> list[tuple[str, dict[str, Any]]]:
    return [(f"{d['id']}/{p['title']}", p) for d in DASHBOARDS for p in _panels(d) if p["type"] == "lens"]


def _layer_view(attributes: dict[str, Any], layer_id: str) -> str:
    (view,) = [r["id"] for r in attributes["references"] if r["name"] == f"indexpattern-datasource-layer-{layer_id}"]
    return str(view)


def _accessors(visualization: dict[str, Any]) -> set[str]:
    keys = ("xAccessor", "splitAccessor", "metricAccessor")
    found = {visualization[k] for k in keys if k in visualization}
    found |= {column["columnId"] for column in visualization.get("columns", [])}
    for layer in visualization.get("layers", []):
        found |= {layer[k] for k in keys if k in layer} | set(layer.get("accessors", []))
    return found


@pytest.mark.parametrize(("label", "panel"), _lens_panels(), ids=[label for label, _ in _lens_panels()])
def test_lens_panels_are_consistent_and_read_existing_fields(label: str, panel: dict[str, Any]) -> None:
    attributes = panel["embeddableConfig"]["attributes"]
    state = attributes["state"]
    (layer_id, layer), = state["datasourceStates"]["formBased"]["layers"].items()
    view = _layer_view(attributes, layer_id)
    columns = layer["columns"]
    assert sorted(layer["columnOrder"]) == sorted(columns)
    assert _accessors(state["visualization"]) <= set(columns), f"{label}: chart uses a missing column"
    for kql in [state["query"]["query"]] + [c["filter"]["query"] for c in columns.values() if "filter" in c]:
        for name in fields.kql_fields(kql):
            field_type(view, name)
    for column_id, column in columns.items():
        for ref in column.get("references", []):
            assert ref in columns, f"{label}: {column_id} refers to missing {ref}"
        order = column.get("params", {}).get("orderBy", {})
        if order.get("type") == "column":
            assert order["columnId"] in columns
        source = column.get("sourceField")
        if source is None or source == RECORDS:
            continue
        kind = field_type(view, source)
        if column["operationType"] == "percentile" and kind == "histogram":
            continue  # Lens percentiles accept histogram fields (the profiles' latency sketch)
        if column["operationType"] in NUMERIC_OPS or column["operationType"] == "range":
            assert kind in fields.NUMERIC, f"{label}: {column['operationType']} of {source} ({kind})"
        if column["operationType"] == "terms":
            assert kind in BUCKET_TYPES, f"{label}: terms of {source} ({kind})"
        if column["operationType"] == "date_histogram":
            assert kind == "date"


def test_controls_filter_fields_every_panel_of_their_dashboard_has() -> None:
    """A model/version control filters every panel: each panel's data view must know the field."""
    for dashboard in DASHBOARDS:
        controls = dashboard["attributes"].get("controlGroupInput")
        if not controls:
            continue
        refs = _dashboard_refs(dashboard)
        for control_id, control in json.loads(controls["panelsJSON"]).items():
            source = control["explicitInput"]["fieldName"]
            assert field_type(refs[f"controlGroup_{control_id}:optionsListDataView"]["id"], source) == "keyword"
            for panel in _panels(dashboard):
                if panel["type"] == "lens":
                    attributes = panel["embeddableConfig"]["attributes"]
                    for layer_id in attributes["state"]["datasourceStates"]["formBased"]["layers"]:
                        field_type(_layer_view(attributes, layer_id), source)


def test_saved_searches_read_existing_fields() -> None:
    for item in OBJECTS:
        if item["type"] != "search":
            continue
        source = json.loads(item["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
        (ref,) = [r for r in item["references"] if r["name"] == source["indexRefName"]]
        for name in item["attributes"]["columns"] + fields.kql_fields(source["query"]["query"]):
            field_type(ref["id"], name)


def test_data_view_formats_and_runtime_scripts_name_existing_fields() -> None:
    for view_id, view in VIEWS.items():
        for name in json.loads(view["attributes"]["fieldFormatMap"]):
            field_type(view_id, name)
        for runtime in _runtime(view_id).values():
            names = fields.script_fields(runtime["script"]["source"])
            assert names, "a runtime field reads at least one field"
            for name in names:
                assert name not in _runtime(view_id)
                field_type(view_id, name)


def test_trace_links_open_the_trace_in_the_all_spans_view() -> None:
    for view in VIEWS.values():
        for name, fmt in json.loads(view["attributes"]["fieldFormatMap"]).items():
            if fmt["id"] == "url":
                template = fmt["params"]["urlTemplate"]
                assert "{{value}}" in template and "dataViewId:modelspan-all-spans" in template, name
                assert re.search(r"query:'trace_id:\{\{value\}\}'", template)


def test_markdown_links_point_at_dashboards_in_the_file() -> None:
    ids = {item["id"] for item in DASHBOARDS}
    for dashboard in DASHBOARDS:
        for panel in _panels(dashboard):
            if panel["type"] == "visualization":
                linked = re.findall(r"/app/dashboards#/view/([\w-]+)", panel["embeddableConfig"]["savedVis"]["params"][
                    "markdown"])
                assert set(linked) <= ids



@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda item: item["id"])
def test_panels_fit_the_grid_without_overlapping(dashboard: dict[str, Any]) -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in _panels(dashboard):
        grid = panel["gridData"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 48 and grid["w"] > 0 and grid["h"] > 0
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['panelIndex']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["panelIndex"]


def _drilldowns() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    return [(label, panel, event) for label, panel in _lens_panels()
            for event in panel["embeddableConfig"]["enhancements"].get("dynamicActions", {}).get("events", [])]


def test_every_profile_panel_links_to_the_sampled_traces_of_its_model_version_and_time() -> None:
    for label, panel in _lens_panels():
        attributes = panel["embeddableConfig"]["attributes"]
        ((layer_id, _),) = attributes["state"]["datasourceStates"]["formBased"]["layers"].items()
        events = panel["embeddableConfig"]["enhancements"].get("dynamicActions", {}).get("events", [])
        is_profile = VIEWS[_layer_view(attributes, layer_id)]["attributes"]["title"] == profiles.PATTERN
        assert bool(events) == is_profile, label
    assert _drilldowns()
    for label, _, event in _drilldowns():
        action = event["action"]
        assert action["factoryId"] == "URL_DRILLDOWN" and event["triggers"] == ["CONTEXT_MENU_TRIGGER"], label
        template = action["config"]["url"]["template"]
        # the panel's time range and filters (the model/version controls) go to Discover on the model spans
        for variable in ("{{context.panel.timeRange.from}}", "{{context.panel.timeRange.to}}",
                         "{{rison context.panel.filters}}"):
            assert variable in template, label
        view = re.search(r"dataViewId:([\w-]+)", template)
        assert view and VIEWS[view[1]]["attributes"]["title"] == "traces-modelspan.otel-*", label
        (query,) = re.findall(r"query:'([^']*)'", template)
        for name in fields.kql_fields(query):
            field_type(view[1], name)
    assert len({event["eventId"] for _, _, event in _drilldowns()}) == len(_drilldowns())


def test_dashboards_with_profile_panels_embed_the_sampled_calls() -> None:
    """On Basic (no URL drilldowns) the saved search of sampled model spans sits under the profile panels:
    the same controls and time picker filter it, and its trace ids open the whole trace."""
    (search,) = [item for item in OBJECTS if item["id"] == "modelspan-search-sampled-calls"]
    source = json.loads(search["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
    assert "trace_id" in search["attributes"]["columns"] and "ml.span.kind" in source["query"]["query"]
    for dashboard in DASHBOARDS:
        refs = _dashboard_refs(dashboard)
        views = {refs[name]["id"] for name in refs if "indexpattern-datasource-layer" in name}
        searches = {ref["id"] for ref in refs.values() if ref["type"] == "search"}
        if "modelspan-profiles" in views and dashboard["id"] != "modelspan-incidents":
            assert "modelspan-search-sampled-calls" in searches, dashboard["id"]
