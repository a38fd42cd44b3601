"""Kibana saved-object primitives: Lens columns and layers, dashboard panels, controls, data views.

Kibana's saved-object JSON is verbose and easy to get subtly wrong (a layer's reference name must
match its layer id, a panel's references are prefixed with its panel index, a formula must be stored
expanded into its parts). These helpers produce exactly the shapes Kibana 8.x exports, so the
dashboards in ``_dashboards`` read as "what is shown" rather than as JSON plumbing.

Every panel is a Lens visualization embedded *by value* (``embeddableConfig.attributes``); its data
view is referenced twice, as Kibana itself saves it: inside the Lens attributes
(``indexpattern-datasource-layer-<layer>``) and on the dashboard with the panel index as prefix.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from modelspan.elasticsearch.layout import TIMESTAMP

Json = dict[str, Any]
PANEL_VERSION = "8.8.0"
"""Embeddable version the panels are written in; Kibana migrates from there on import."""
RECORDS = "___records___"


def _metric(operation: str, label: str, source: str, data_type: str = "number", **extra: Any) -> Json:
    column: Json = {"label": label, "customLabel": True, "dataType": data_type, "operationType": operation,
                    "sourceField": source, "isBucketed": False, "scale": "ratio"}
    column.update({key: value for key, value in extra.items() if value is not None})
    return column


def count(label: str, *, kql: str | None = None, per: str | None = None, shift: str | None = None) -> Json:
    """Number of documents (``per="s"`` normalises to a rate per second, ``shift`` compares with the past)."""
    return _metric("count", label, RECORDS, params={"emptyAsNull": False}, filter=_filter(kql),
                   timeScale=per, timeShift=shift)


def stat(operation: str, source: str, label: str, *, kql: str | None = None, per: str | None = None,
         shift: str | None = None, percentile: float | None = None, fmt: Json | None = None) -> Json:
    """``sum``/``average``/``max``/``min``/``percentile``/``unique_count`` of a numeric field."""
    params: Json = {"emptyAsNull": True}
    if percentile is not None:
        params = {"percentile": percentile}
    if fmt is not None:
        params["format"] = fmt
    return _metric(operation, label, source, params=params, filter=_filter(kql), timeScale=per, timeShift=shift)


def last_value(source: str, label: str, data_type: str = "string") -> Json:
    """The most recent value of a field (keyword or number), by ``@timestamp``."""
    return _metric("last_value", label, source, data_type,
                   params={"sortField": TIMESTAMP, "showArrayValues": True}, filter=_filter(f"{source} : *"))


def date_histogram(source: str = TIMESTAMP) -> Json:
    return {"label": source, "dataType": "date", "operationType": "date_histogram", "sourceField": source,
            "isBucketed": True, "scale": "interval",
            "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False}}


def terms(source: str, label: str, order_by: str | None, size: int = 10, *, other: bool = True) -> Json:
    """Top ``size`` values of a keyword; ordered by the metric column ``order_by`` or alphabetically."""
    order: Json = {"type": "column", "columnId": order_by} if order_by else {"type": "alphabetical",
                                                                             "fallback": False}
    return {"label": label, "customLabel": True, "dataType": "string", "operationType": "terms",
            "sourceField": source, "isBucketed": True, "scale": "ordinal",
            "params": {"size": size, "orderBy": order, "orderDirection": "desc" if order_by else "asc",
                       "otherBucket": other, "missingBucket": False, "parentFormat": {"id": "terms"}}}


def histogram(source: str, label: str, max_bars: int = 20) -> Json:
    """Equal-width buckets of a numeric field (``range`` operation in histogram mode)."""
    return {"label": label, "customLabel": True, "dataType": "number", "operationType": "range",
            "sourceField": source, "isBucketed": True, "scale": "interval",
            "params": {"type": "histogram", "maxBars": max_bars, "includeEmptyRows": True,
                       "ranges": [{"from": 0, "to": 1000, "label": ""}]}}


def ratio(column_id: str, label: str, numerator: str, denominator: str) -> dict[str, Json]:
    """``count(kql=numerator) / count(kql=denominator)`` as a percentage (see ``_divide``)."""
    text = f"count(kql='{numerator}') / count(kql='{denominator}')"
    return _divide(column_id, label, text, count("", kql=numerator), count("", kql=denominator))


def sum_ratio(column_id: str, label: str, numerator: str, denominator: str) -> dict[str, Json]:
    """``sum(numerator) / sum(denominator)`` of two numeric fields as a percentage; an empty bucket
    (no denominator) is no value, not 0 %."""
    text = f"sum({numerator}) / sum({denominator})"
    return _divide(column_id, label, text, stat("sum", numerator, ""), stat("sum", denominator, ""))


def _divide(column_id: str, label: str, text: str, top: Json, bottom: Json) -> dict[str, Json]:
    """A formula ``top / bottom`` stored as Lens stores one: the formula column plus its hidden parts
    (``<id>X0`` ... ``<id>X2``)."""
    parts = [f"{column_id}X0", f"{column_id}X1", f"{column_id}X2"]
    hidden = {"customLabel": True, "label": f"Part of {text}"}
    return {
        parts[0]: {**top, **hidden},
        parts[1]: {**bottom, **hidden},
        parts[2]: {**hidden, "dataType": "number", "operationType": "math", "isBucketed": False, "scale": "ratio",
                   "params": {"tinymathAst": {"type": "function", "name": "divide", "args": parts[:2],
                                              "location": {"min": 0, "max": len(text)}, "text": text}},
                   "references": parts[:2]},
        column_id: {"label": label, "customLabel": True, "dataType": "number", "operationType": "formula",
                    "isBucketed": False, "scale": "ratio", "references": [parts[2]],
                    "params": {"formula": text, "isFormulaBroken": False, "format": {"id": "percent",
                                                                                       "params": {"decimals": 2}}}},
    }


def _filter(kql: str | None) -> Json | None:
    return None if kql is None else {"query": kql, "language": "kuery"}


@dataclass
class Layer:
    """One Lens layer: a data view and its columns (bucket columns first, as Lens orders them)."""

    id: str
    data_view: str
    columns: dict[str, Json] = field(default_factory=dict)

    def state(self) -> Json:
        buckets = [key for key, column in self.columns.items() if column["isBucketed"]]
        metrics = [key for key, column in self.columns.items() if not column["isBucketed"]]
        return {"columns": self.columns, "columnOrder": buckets + metrics, "incompleteColumns": {},
                "sampling": 1}

    def reference(self) -> Json:
        return {"type": "index-pattern", "id": self.data_view, "name": f"indexpattern-datasource-layer-{self.id}"}


def xy(layer: Layer, x: str, ys: list[str], *, split: str | None = None, series: str = "line",
       legend: bool = True) -> tuple[str, Json]:
    """A line/area/bar chart: ``x`` bucket column, ``ys`` metric columns, optional ``split`` series."""
    data_layer: Json = {"layerId": layer.id, "layerType": "data", "seriesType": series, "xAccessor": x,
                        "accessors": ys, "palette": {"name": "default", "type": "palette"}}
    if split is not None:
        data_layer["splitAccessor"] = split
    return "lnsXY", {
        "legend": {"isVisible": legend, "position": "right", "showSingleSeries": True},
        "valueLabels": "hide", "fittingFunction": "Linear", "preferredSeriesType": series,
        "axisTitlesVisibilitySettings": {"x": True, "yLeft": True, "yRight": True},
        "layers": [data_layer],
    }


def table(layer: Layer, columns: list[str]) -> tuple[str, Json]:
    return "lnsDatatable", {"layerId": layer.id, "layerType": "data",
                            "columns": [{"columnId": column, "isTransposed": False} for column in columns]}


def metric(layer: Layer, value: str) -> tuple[str, Json]:
    return "lnsMetric", {"layerId": layer.id, "layerType": "data", "metricAccessor": value}


def lens(title: str, layer: Layer, visualization: tuple[str, Json], kql: str = "") -> Json:
    """By-value Lens attributes of one single-layer visualization; ``kql`` filters the whole chart."""
    kind, state = visualization
    return {
        "title": title, "description": "", "visualizationType": kind, "type": "lens",
        "references": [layer.reference()],
        "state": {
            "visualization": state,
            "query": {"query": kql, "language": "kuery"},
            "filters": [],
            "datasourceStates": {"formBased": {"layers": {layer.id: layer.state()}}},
            "internalReferences": [],
            "adHocDataViews": {},
        },
    }


@dataclass
class Grid:
    """Lays panels out left to right on Kibana's 48-column grid, wrapping to a new row."""

    x: int = 0
    y: int = 0
    row_height: int = 0
    panels: list[Json] = field(default_factory=list)
    references: list[Json] = field(default_factory=list)

    def _place(self, width: int, height: int) -> Json:
        if self.x + width > 48:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        index = f"p{len(self.panels) + 1}"
        grid = {"x": self.x, "y": self.y, "w": width, "h": height, "i": index}
        self.x += width
        self.row_height = max(self.row_height, height)
        return grid

    def add_lens(self, attributes: Json, width: int = 24, height: int = 12, actions: list[Json] | None = None) -> None:
        """A by-value Lens panel; ``actions`` are its drilldowns (``url_drilldown``)."""
        grid = self._place(width, height)
        index = grid["i"]
        enhancements = {"dynamicActions": {"events": actions}} if actions else {}
        self.panels.append({"version": PANEL_VERSION, "type": "lens", "gridData": grid, "panelIndex": index,
                            "title": attributes["title"],
                            "embeddableConfig": {"attributes": attributes, "enhancements": enhancements}})
        self.references.extend({**ref, "name": f"{index}:{ref['name']}"} for ref in attributes["references"])

    def add_search(self, search_id: str, title: str, width: int = 48, height: int = 14) -> None:
        """A saved search (Discover table) panel, by reference."""
        grid = self._place(width, height)
        index = grid["i"]
        self.panels.append({"version": PANEL_VERSION, "type": "search", "gridData": grid, "panelIndex": index,
                            "title": title, "embeddableConfig": {"enhancements": {}},
                            "panelRefName": f"panel_{index}"})
        self.references.append({"type": "search", "id": search_id, "name": f"{index}:panel_{index}"})

    def add_markdown(self, title: str, markdown: str, width: int = 48, height: int = 5) -> None:
        grid = self._place(width, height)
        saved_vis = {"title": title, "description": "", "type": "markdown", "uiState": {},
                     "params": {"fontSize": 12, "openLinksInNewTab": False, "markdown": markdown},
                     "data": {"aggs": [], "searchSource": {"query": {"query": "", "language": "kuery"},
                                                           "filter": []}}}
        self.panels.append({"version": PANEL_VERSION, "type": "visualization", "gridData": grid,
                            "panelIndex": grid["i"], "title": title,
                            "embeddableConfig": {"savedVis": saved_vis, "enhancements": {}}})


def url_drilldown(panel: str, name: str, template: str, trigger: str = "CONTEXT_MENU_TRIGGER") -> Json:
    """A URL drilldown (Kibana's ``URL_DRILLDOWN`` action; Gold licence and up) as panel ``panel`` saves it.

    The event id is derived from the panel and the content (unique per panel, as Kibana's own random
    ids are), so generation stays deterministic.
    """
    event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{panel}\x1f{trigger}\x1f{name}\x1f{template}"))
    return {"eventId": event_id, "triggers": [trigger],
            "action": {"factoryId": "URL_DRILLDOWN", "name": name,
                       "config": {"url": {"template": template}, "openInNewTab": True, "encodeUrl": True}}}


def controls(data_view: str, fields: list[tuple[str, str]]) -> tuple[Json, list[Json]]:
    """An options-list control per ``(field, title)``, chained (version lists only the chosen model's)."""
    panels: Json = {}
    references = []
    for order, (source, title) in enumerate(fields):
        control_id = f"control-{order}"
        panels[control_id] = {
            "order": order, "width": "medium", "grow": True, "type": "optionsListControl",
            "explicitInput": {"id": control_id, "fieldName": source, "title": title, "selectedOptions": [],
                              "searchTechnique": "prefix", "sort": {"by": "_count", "direction": "desc"},
                              "enhancements": {}},
        }
        references.append({"type": "index-pattern", "id": data_view,
                           "name": f"controlGroup_{control_id}:optionsListDataView"})
    settings = {"ignoreFilters": False, "ignoreQuery": False, "ignoreTimerange": False, "ignoreValidations": False}
    group = {"controlStyle": "oneLine", "chainingSystem": "HIERARCHICAL", "showApplySelections": False,
             "panelsJSON": json.dumps(panels), "ignoreParentSettingsJSON": json.dumps(settings)}
    return group, references


def dashboard(object_id: str, title: str, description: str, grid: Grid,
              control_group: tuple[Json, list[Json]] | None = None, time_from: str = "now-24h") -> Json:
    attributes: Json = {
        "title": title, "description": description, "version": 1,
        "panelsJSON": json.dumps(grid.panels),
        "optionsJSON": json.dumps({"useMargins": True, "syncColors": True, "syncCursor": True,
                                   "syncTooltips": True, "hidePanelTitles": False}),
        "timeRestore": True, "timeFrom": time_from, "timeTo": "now",
        "refreshInterval": {"pause": False, "value": 60000},
        "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps({"query": {"query": "", "language": "kuery"},
                                                                  "filter": []})},
    }
    references = list(grid.references)
    if control_group is not None:
        attributes["controlGroupInput"], control_refs = control_group
        references.extend(control_refs)
    return stamped({"type": "dashboard", "id": object_id, "attributes": attributes, "references": references,
                    "managed": False})


def data_view(object_id: str, pattern: str, name: str, *, runtime: Json | None = None,
              formats: Json | None = None) -> Json:
    """An ``index-pattern`` saved object; ``allowNoIndex`` so it imports before any data arrives."""
    attributes: Json = {"title": pattern, "name": name, "timeFieldName": TIMESTAMP, "allowNoIndex": True,
                        "runtimeFieldMap": json.dumps(runtime or {}), "fieldFormatMap": json.dumps(formats or {})}
    return stamped({"type": "index-pattern", "id": object_id, "attributes": attributes, "references": [],
                    "managed": False})


def saved_search(object_id: str, title: str, data_view_id: str, columns: list[str], kql: str) -> Json:
    """A Discover saved search (the incident list with clickable trace links)."""
    source = {"query": {"query": kql, "language": "kuery"}, "filter": [],
              "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index"}
    return stamped({"type": "search", "id": object_id, "managed": False,
                    "attributes": {"title": title, "description": "", "columns": columns,
                                   "sort": [[TIMESTAMP, "desc"]], "grid": {}, "hideChart": False,
                                   "isTextBasedQuery": False,
                                   "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(source)}},
                    "references": [{"type": "index-pattern", "id": data_view_id,
                                    "name": "kibanaSavedObjectMeta.searchSourceJSON.index"}]})


CORE_MIGRATION_VERSION = "8.8.0"
"""Kibana's last core (legacy) migration version; every 8.8+ export carries it."""
TYPE_MIGRATION_VERSIONS = {"index-pattern": "8.0.0", "search": "10.1.0", "dashboard": "10.1.0"}
"""The version whose shape each object has, so Kibana runs every later migration on import.

Saved searches and dashboards are written in the shape of their model version 1 (``10.1.0``, the
first model version of both types in Kibana's saved-object type definitions, known to every Kibana
from 8.17): later model versions add mappings and, for saved searches (model version 6, 9.x), backfill
the ``tabs`` attribute, which Kibana only does for objects stamped older than it. Unstamped objects
are taken as current and skip that backfill. Data views have legacy migrations only (last ``8.0.0``).
"""
ASSET_HASH = "modelspan asset "
"""Marker of the content hash stamped into a saved object's description (see ``stamped``)."""


def stamped(item: Json) -> Json:
    """``item`` with its migration versions and, where it has a description, a hash of its content.

    Kibana migrates and normalises what it imports (JSON strings re-serialised, attributes added),
    so ``modelspan elastic setup`` cannot compare attributes to know whether an object changed; it
    compares the hash in the description instead (``[modelspan asset <hash>]``).
    """
    item = {**item, "coreMigrationVersion": CORE_MIGRATION_VERSION,
            "typeMigrationVersion": TYPE_MIGRATION_VERSIONS[item["type"]]}
    attributes = item["attributes"]
    if "description" in attributes:
        digest = hashlib.sha256(json.dumps(item, sort_keys=True).encode()).hexdigest()[:16]
        text = attributes["description"]
        marker = f"[{ASSET_HASH}{digest}]"
        item["attributes"] = {**attributes, "description": f"{text} {marker}" if text else marker}
    return item
