"""The seven modelspan dashboards: what each panel shows, in terms of our span and findings fields.

Model-centric dashboards carry model/version controls on the profiles data view (every model version
that was called, even one whose spans were all sampled out); spans and profiles share the field
names, and the findings data view defines runtime aliases of them (``_views``), so one selection
filters profile, span and findings panels alike. Calls, latency and errors come from profiles
(``_operations``: exact at any span sample rate), with links to the sampled traces.
``kibana/README.md`` documents every dashboard.
"""

from __future__ import annotations

import re
from typing import Any

from kibana import _lens as L
from kibana import _operations as ops
from kibana._views import (
    ALL_SPANS_VIEW,
    APP_SERVER_SPANS,
    APP_TYPES,
    DURATION,
    ERRORS,
    FINDINGS_VIEW,
    LABEL,
    MODEL,
    MODEL_CALLS,
    MODEL_PROBLEMS,
    MODULE,
    MODULE_CALLS,
    OPEN,
    PATH_KEY,
    PROFILES_VIEW,
    ROOT,
    ROUTE,
    SCORE,
    SERVICE,
    SPANS_VIEW,
    TRUNCATED,
    VERSION,
    any_of,
    attr,
    eq,
)
from modelspan import findings, semconv

Json = dict[str, Any]
PERCENTS = (50, 90, 95, 99)

DASHBOARDS = {
    "overview": "modelspan-overview",
    "model": "modelspan-model",
    "drift": "modelspan-drift",
    "quality": "modelspan-quality",
    "paths": "modelspan-paths",
    "incidents": "modelspan-incidents",
    "experiments": "modelspan-experiments",
}
SEARCHES = {
    "correlated": "modelspan-search-correlated-incidents",
    "model": "modelspan-search-model-incidents",
    "application": "modelspan-search-application-incidents",
}


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def _add(grid: L.Grid, title: str, view: str, columns: Json, vis: str, *, kql: str = "", width: int = 24,
         height: int = 12, **options: Any) -> None:
    """One Lens panel. ``vis``: xy series type (``line``, ``bar_stacked`` ...), ``table`` or ``metric``;
    xy columns are keyed ``x``, ``split`` and anything else (the y values). A profile panel links to
    the sampled traces of its model, version and time range."""
    layer = L.Layer(_slug(title), view, columns)
    visible = [key for key in columns if not re.search(r"X\d$", key)]
    if vis == "table":
        visualization = L.table(layer, visible)
    elif vis == "metric":
        visualization = L.metric(layer, visible[0])
    else:
        ys = [key for key in visible if key not in ("x", "split")]
        visualization = L.xy(layer, "x", ys, split="split" if "split" in columns else None, series=vis, **options)
    actions = ops.traces_drilldown(title) if view == PROFILES_VIEW else None
    grid.add_lens(L.lens(title, layer, visualization, kql), width, height, actions)


def _percentiles(source: str = DURATION) -> Json:
    return {f"p{p}": L.stat("percentile", source, f"p{p} latency", percentile=p) for p in PERCENTS}


def _controls() -> tuple[Json, list[Json]]:
    # No sub-module control: its filter would empty every model-level panel (the models' own calls name
    # no module); the sub-module panels split by module instead.
    return L.controls(PROFILES_VIEW, [(MODEL, "Model"), (VERSION, "Version")])


def _nav() -> str:
    links = " · ".join(f"[{name}](/app/dashboards#/view/{object_id})" for name, object_id in DASHBOARDS.items())
    return f"**modelspan** dashboards: {links}. Findings come from `modelspan analyze`; see kibana/README.md."


def overview() -> Json:
    g = L.Grid()
    g.add_markdown("modelspan", _nav(), height=3)
    _add(g, "Calls per second", PROFILES_VIEW, {"v": ops.qps()}, "metric", kql=MODEL_CALLS, width=12, height=6)
    _add(g, "p95 latency", PROFILES_VIEW, {"v": ops.latency(95)}, "metric", kql=MODEL_CALLS, width=12, height=6)
    _add(g, "Error rate", PROFILES_VIEW, ops.error_rate("v"), "metric", kql=MODEL_CALLS, width=12, height=6)
    _add(g, "Open findings", FINDINGS_VIEW, {"v": L.count("open findings")}, "metric", kql=OPEN,
         width=12, height=6)
    _add(g, "Calls per second by model", PROFILES_VIEW, {
        "x": L.date_histogram(), "split": L.terms(MODEL, "model", "qps"), "qps": ops.qps()}, "line", kql=MODEL_CALLS)
    _add(g, "Latency percentiles (all models)", PROFILES_VIEW, {"x": L.date_histogram(), **ops.percentiles()},
         "line", kql=MODEL_CALLS)
    _add(g, "Error rate by model", PROFILES_VIEW, {
        "x": L.date_histogram(), "split": L.terms(MODEL, "model", None), **ops.error_rate("rate")}, "line",
         kql=MODEL_CALLS)
    _add(g, "Open findings by type", FINDINGS_VIEW, {
        "x": L.date_histogram(), "split": L.terms(findings.TYPE, "type", "n"), "n": L.count("findings")},
        "bar_stacked", kql=OPEN)
    _add(g, "Models", PROFILES_VIEW, {
        "model": L.terms(MODEL, "model", "qps", 50, other=False),
        "version": L.terms(VERSION, "version", "qps", 20, other=False),
        "qps": ops.qps(), **ops.percentiles(), **ops.error_rate("err"), **ops.traced("traced")},
         "table", kql=MODEL_CALLS, width=48)
    _add(g, "Open findings", FINDINGS_VIEW, _findings_table(findings.TYPE, findings.SEVERITY), "table", kql=OPEN,
         width=48)
    g.add_search(ops.SAMPLED_CALLS, "Sampled calls (traces) of the selected models and time range")
    return L.dashboard(DASHBOARDS["overview"], "[modelspan] Overview",
                       "All models: throughput, latency percentiles, error rate and open findings.", g,
                       _controls())


def _findings_table(*keys: str) -> Json:
    columns: Json = {"model": L.terms(findings.MODEL_NAME, "model", "n", 50, other=False)}
    columns.update({key: L.terms(key, key, "n", 20, other=False) for key in keys})
    columns["n"] = L.count("findings")
    columns["summary"] = L.last_value(findings.SUMMARY + ".keyword", "latest summary")
    return columns


def model_page() -> Json:
    g = L.Grid()
    by_version = {"x": L.date_histogram(), "split": L.terms(VERSION, "version", None)}
    _add(g, "Calls per second by version", PROFILES_VIEW, {**by_version, "qps": ops.qps()}, "line",
         kql=MODEL_CALLS, width=16)
    _add(g, "p95 latency by version", PROFILES_VIEW, {**by_version, "p95": ops.latency(95)}, "line",
         kql=MODEL_CALLS, width=16)
    _add(g, "Error rate by version", PROFILES_VIEW, {**by_version, **ops.error_rate("err")}, "line",
         kql=MODEL_CALLS, width=16)
    _add(g, "Versions side by side", PROFILES_VIEW, {
        "version": L.terms(VERSION, "version", None, 20, other=False), "qps": ops.qps(),
        "rows": ops.rows_per_second(), **ops.percentiles(), **ops.error_rate("err"), **ops.traced("traced")},
         "table", kql=MODEL_CALLS, width=48, height=8)
    _add(g, "Sub-module p95 latency", PROFILES_VIEW, {
        "x": L.date_histogram(), "split": L.terms(MODULE, "sub-module", "p95"), "p95": ops.latency(95)}, "line",
         kql=MODULE_CALLS)
    _add(g, "Sub-modules per version", PROFILES_VIEW, {
        "version": L.terms(VERSION, "version", None, 20, other=False),
        "module": L.terms(MODULE, "sub-module", "calls", 50, other=False), "calls": ops.calls(),
        **ops.percentiles(), **ops.error_rate("err")}, "table", kql=MODULE_CALLS)
    _add(g, "Predicted labels by version", SPANS_VIEW, {
        "x": L.terms(VERSION, "version", None, 20), "split": L.terms(LABEL, "label", "n"),
        "n": L.count("calls")}, "bar_percentage_stacked", kql=ROOT)
    _add(g, "Score distribution by version", SPANS_VIEW, {
        "x": L.histogram(SCORE, "score"), "split": L.terms(VERSION, "version", None, 5),
        "n": L.count("calls")}, "bar", kql=ROOT)
    g.add_search(ops.SAMPLED_CALLS, "Sampled calls (traces) of this model, version and time range")
    return L.dashboard(DASHBOARDS["model"], "[modelspan] Model",
                       "One model: versions side by side, sub-modules, outputs.", g, _controls())


def drift() -> Json:
    g = L.Grid()
    is_drift = eq(findings.TYPE, findings.TYPE_DRIFT)
    _add(g, "Drift score per feature", FINDINGS_VIEW, {
        "x": L.date_histogram(), "split": L.terms(findings.FEATURE_NAME, "feature", "score"),
        "score": L.stat("max", findings.TEST_SCORE, "drift score")}, "line", kql=is_drift)
    _add(g, "Top drifting features", FINDINGS_VIEW, {
        "x": L.terms(findings.FEATURE_NAME, "feature", "score", 15, other=False),
        "score": L.stat("max", findings.TEST_SCORE, "max drift score")}, "bar_horizontal", kql=is_drift)
    _add(g, "Drift findings", FINDINGS_VIEW, {
        "feature": L.terms(findings.FEATURE_NAME, "feature", "score", 50, other=False),
        "test": L.terms(findings.TEST_NAME, "test", "score", 5, other=False),
        "score": L.stat("max", findings.TEST_SCORE, "max score"),
        "threshold": L.stat("max", findings.TEST_THRESHOLD, "threshold"),
        "p": L.stat("min", findings.TEST_P_VALUE_ADJUSTED, "min adjusted p"),
        "flagged": L.count("flagged windows", kql=OPEN),
        "n": L.stat("sum", findings.SAMPLE_COUNT, "values")}, "table", kql=is_drift, width=48)
    _add(g, "Prediction drift", FINDINGS_VIEW, {
        "x": L.date_histogram(), "split": L.terms(findings.TEST_NAME, "test", "score"),
        "score": L.stat("max", findings.TEST_SCORE, "score")}, "line",
         kql=eq(findings.TYPE, findings.TYPE_PREDICTION_DRIFT))
    _add(g, "Data-quality rates", FINDINGS_VIEW, {
        "x": L.date_histogram(), "split": L.terms(findings.METRIC_NAME, "check", "rate"),
        "rate": L.stat("max", findings.METRIC_VALUE, "worst feature's rate")}, "line",
         kql=eq(findings.TYPE, findings.TYPE_DATA_QUALITY))
    _add(g, "Failed values per check (from spans)", SPANS_VIEW, {
        "x": L.date_histogram(), **{check: L.stat("sum", attr(semconv.quality_count(check)), check)
                                    for check in semconv.CHECKS}}, "bar_stacked", kql=ROOT)
    _add(g, "Data quality by feature", FINDINGS_VIEW, {
        "feature": L.terms(findings.FEATURE_NAME, "feature", "rate", 50, other=False),
        "check": L.terms(findings.METRIC_NAME, "check", "rate", 10, other=False),
        "rate": L.stat("max", findings.METRIC_VALUE, "max rate"),
        "reference": L.stat("max", findings.METRIC_REFERENCE_VALUE, "reference rate"),
        "flagged": L.count("flagged windows", kql=OPEN)}, "table", kql=eq(findings.TYPE, findings.TYPE_DATA_QUALITY))
    _add(g, "Reference vs current distribution per feature", FINDINGS_VIEW, {
        "feature": L.terms(findings.FEATURE_NAME, "feature", None, 50, other=False),
        "bin": L.terms(findings.METRIC_NAME, "bin", None, 100, other=False),
        "reference": L.stat("average", findings.METRIC_REFERENCE_VALUE, "reference share"),
        "current": L.stat("average", findings.METRIC_VALUE, "current share")}, "table",
         kql=eq(findings.TYPE, findings.TYPE_DISTRIBUTION))
    _add(g, "Score distribution: now vs one week earlier", SPANS_VIEW, {
        "x": L.histogram(SCORE, "score"), "now": L.count("now"),
        "before": L.count("one week earlier", shift="1w")}, "bar", kql=ROOT)
    _add(g, "Predicted labels: now vs one week earlier", SPANS_VIEW, {
        "x": L.terms(LABEL, "label", "now", 20), "now": L.count("now"),
        "before": L.count("one week earlier", shift="1w")}, "bar", kql=ROOT)
    return L.dashboard(DASHBOARDS["drift"], "[modelspan] Drift and data quality",
                       "Drift scores per feature over time, top drifting features, data-quality rates, "
                       "reference vs current distributions.", g, _controls())


def quality() -> Json:
    g = L.Grid()
    is_quality = eq(findings.TYPE, findings.TYPE_QUALITY)
    _add(g, "Model quality over prediction time", FINDINGS_VIEW, {
        "x": L.date_histogram(), "split": L.terms(findings.METRIC_NAME, "metric", None, 12),
        "value": L.stat("average", findings.METRIC_VALUE, "value")}, "line", kql=is_quality, width=32)
    _add(g, "Labelled predictions", FINDINGS_VIEW, {
        "x": L.date_histogram(), "split": L.terms(findings.MODEL_VERSION, "version", None, 5),
        "n": L.stat("max", findings.SAMPLE_COUNT, "labelled predictions")}, "bar", kql=is_quality, width=16)
    _add(g, "Quality per version", FINDINGS_VIEW, {
        "version": L.terms(findings.MODEL_VERSION, "version", None, 20, other=False),
        "metric": L.terms(findings.METRIC_NAME, "metric", None, 20, other=False),
        "value": L.last_value(findings.METRIC_VALUE, "latest", "number"),
        "reference": L.last_value(findings.METRIC_REFERENCE_VALUE, "reference", "number"),
        "n": L.stat("sum", findings.SAMPLE_COUNT, "labelled"),
        "flagged": L.count("drops", kql=OPEN)}, "table", kql=is_quality, width=48)
    _add(g, "Quality drops", FINDINGS_VIEW, _findings_table(findings.MODEL_VERSION, findings.METRIC_NAME), "table",
         kql=f"{is_quality} and {OPEN}", width=48)
    _estimated(g)
    return L.dashboard(DASHBOARDS["quality"], "[modelspan] Model quality",
                       "Quality with late labels, bucketed by prediction time, per version; performance "
                       "estimated before the labels (CBPE, DLE) against what the labels then showed.", g, _controls())


def _estimated(g: L.Grid) -> None:
    """Estimated accuracy (CBPE) and MAE (DLE) with their reference bands against the realised values, and
    every estimate."""
    estimated = eq(findings.TYPE, findings.TYPE_ESTIMATED_PERFORMANCE)
    realised = eq(findings.TYPE, findings.TYPE_ESTIMATION_GAP)
    for metric, name in (("accuracy", "accuracy"), ("mae", "MAE")):
        _add(g, f"Estimated vs realised {name}", FINDINGS_VIEW, {
            "x": L.date_histogram(),
            "estimated": L.stat("average", findings.METRIC_VALUE, "estimated (no labels)", kql=estimated),
            "lower": L.stat("average", findings.METRIC_LOWER, "reference band, lower", kql=estimated),
            "upper": L.stat("average", findings.METRIC_UPPER, "reference band, upper", kql=estimated),
            "realised": L.stat("average", findings.METRIC_VALUE, "realised (labels)", kql=realised)}, "line",
             kql=f"{any_of(findings.TYPE, [findings.TYPE_ESTIMATED_PERFORMANCE, findings.TYPE_ESTIMATION_GAP])} and "
                 f"{eq(findings.METRIC_NAME, metric)}", width=32)
    _add(g, "Estimated performance per version", FINDINGS_VIEW, {
        "version": L.terms(findings.MODEL_VERSION, "version", None, 20, other=False),
        "metric": L.terms(findings.METRIC_NAME, "metric", None, 20, other=False),
        "value": L.last_value(findings.METRIC_VALUE, "latest estimate", "number"),
        "lower": L.last_value(findings.METRIC_LOWER, "band lower", "number"),
        "upper": L.last_value(findings.METRIC_UPPER, "band upper", "number"),
        "flagged": L.count("outside the band", kql=OPEN)}, "table", kql=estimated, width=16)


def paths() -> Json:
    g = L.Grid()
    _add(g, "Module path mix over time", SPANS_VIEW, {
        "x": L.date_histogram(), "split": L.terms(PATH_KEY, "path", "n"), "n": L.count("calls")},
         "area_percentage_stacked", kql=ROOT)
    _add(g, "Module path mix by version", SPANS_VIEW, {
        "x": L.terms(VERSION, "version", None, 20), "split": L.terms(PATH_KEY, "path", "n"),
        "n": L.count("calls")}, "bar_percentage_stacked", kql=ROOT)
    _add(g, "Paths per predicted label", SPANS_VIEW, {
        "path": L.terms(PATH_KEY, "path", "n", 50), "label": L.terms(LABEL, "label", "n", 20),
        "n": L.count("calls"), "truncated": L.count("truncated paths", kql=eq(TRUNCATED, True))},
         "table", kql=ROOT)
    is_novel = eq(findings.TYPE, findings.TYPE_NOVEL_PATH)
    _add(g, "Novel paths", FINDINGS_VIEW, {
        "path": L.terms(findings.MODULE_PATH, "path", "n", 50, other=False),
        "label": L.terms(findings.OUTPUT_LABEL, "label", "n", 20, other=False),
        "n": L.stat("sum", findings.SAMPLE_COUNT, "calls"),
        "traces": L.last_value(findings.TRACE_IDS, "example traces")}, "table", kql=is_novel)
    _add(g, "Novel-path findings over time", FINDINGS_VIEW, {
        "x": L.date_histogram(), "split": L.terms(findings.MODEL_NAME, "model", "n"), "n": L.count("findings")},
         "bar_stacked", kql=f"{is_novel} and {OPEN}")
    _add(g, "Path distribution drift per label", FINDINGS_VIEW, {
        "x": L.date_histogram(), "split": L.terms(findings.OUTPUT_LABEL, "label", "score"),
        "score": L.stat("max", findings.TEST_SCORE, "score")}, "line",
         kql=eq(findings.TYPE, findings.TYPE_PATH_DRIFT))
    return L.dashboard(DASHBOARDS["paths"], "[modelspan] Module paths",
                       "Which sub-modules calls take, per output and version, and paths never seen in the baseline.",
                       g, _controls())


def incident_searches() -> list[Json]:
    common = [findings.SUMMARY, findings.MODEL_NAME, findings.MODEL_VERSION, findings.TRACE_IDS]
    return [
        L.saved_search(SEARCHES["correlated"], "[modelspan] Correlated incidents", FINDINGS_VIEW,
                       [findings.SUMMARY, findings.INCIDENT_KIND, findings.INCIDENT_EVIDENCE_SHARE,
                        findings.MODEL_NAME, findings.MODULE_NAME, findings.SERVICE_NAME, findings.ROUTE,
                        findings.TRACE_IDS], eq(findings.TYPE, findings.TYPE_INCIDENT)),
        L.saved_search(SEARCHES["model"], "[modelspan] Model incidents", FINDINGS_VIEW,
                       [findings.TYPE, *common], MODEL_PROBLEMS),
        L.saved_search(SEARCHES["application"], "[modelspan] Application incidents", FINDINGS_VIEW,
                       [findings.TYPE, findings.SUMMARY, findings.SERVICE_NAME, findings.ROUTE, findings.TRACE_IDS],
                       f"{OPEN} and {any_of(findings.TYPE, APP_TYPES)}"),
    ]


def incidents() -> Json:
    g = L.Grid()
    g.add_markdown("Incidents", "Model incidents (left) and application incidents (right), and the analyzer's "
                   "correlations through shared traces (top). Trace ids open every span of the trace in Discover.",
                   height=3)
    g.add_search(SEARCHES["correlated"], "Correlated incidents")
    g.add_search(SEARCHES["model"], "Model incidents", width=24)
    g.add_search(SEARCHES["application"], "Application incidents", width=24)
    _add(g, "Model problems over time", FINDINGS_VIEW, {
        "x": L.date_histogram(), "split": L.terms(findings.TYPE, "type", "n"), "n": L.count("findings")},
         "bar_stacked", kql=MODEL_PROBLEMS)
    _add(g, "Application problems over time", FINDINGS_VIEW, {
        "x": L.date_histogram(), "split": L.terms(findings.SERVICE_NAME, "service", "n"),
        "n": L.count("findings")}, "bar_stacked", kql=f"{OPEN} and {any_of(findings.TYPE, APP_TYPES)}")
    _add(g, "Model error rate", PROFILES_VIEW, {
        "x": L.date_histogram(), "split": L.terms(MODEL, "model", None), **ops.error_rate("err")}, "line",
         kql=MODEL_CALLS)
    _add(g, "Application error rate (server spans)", ALL_SPANS_VIEW, {
        "x": L.date_histogram(), "split": L.terms(SERVICE, "service", None),
        **L.ratio("err", "error rate", ERRORS, APP_SERVER_SPANS)}, "line", kql=APP_SERVER_SPANS)
    _add(g, "Incidents by kind", FINDINGS_VIEW, {
        "x": L.date_histogram(), "split": L.terms(findings.INCIDENT_KIND, "kind", "n"), "n": L.count("incidents")},
         "bar_stacked", kql=eq(findings.TYPE, findings.TYPE_INCIDENT))
    _add(g, "Routes hit by model incidents", FINDINGS_VIEW, {
        "service": L.terms(findings.SERVICE_NAME, "service", "share", 20, other=False),
        "route": L.terms(findings.ROUTE, "route", "share", 20, other=False),
        "model": L.terms(findings.MODEL_NAME, "model", "share", 20, other=False),
        "share": L.stat("max", findings.INCIDENT_EVIDENCE_SHARE, "evidence share",
                        fmt={"id": "percent", "params": {"decimals": 0}}),
        "n": L.count("incidents")}, "table", kql=eq(findings.INCIDENT_KIND, "correlated"))
    _add(g, "Slowest application routes", ALL_SPANS_VIEW, {
        "service": L.terms(SERVICE, "service", "p95", 20, other=False),
        "route": L.terms(ROUTE, "route", "p95", 20, other=False),
        "p95": L.stat("percentile", DURATION, "p95 latency", percentile=95), "n": L.count("requests")},
         "table", kql=APP_SERVER_SPANS, width=48)
    return L.dashboard(DASHBOARDS["incidents"], "[modelspan] Incidents",
                       "Model and application incidents side by side, correlated through their traces.", g)


def experiments() -> Json:
    """Arms side by side: each challenger's effect and always-valid interval, verdicts and the SRM check."""
    g = L.Grid()
    g.add_markdown("Experiments", "Written by `modelspan experiment show` (docs/experiments.md): each arm's "
                   "difference from the control with its always-valid interval (mSPRT), which stays valid however "
                   "often it is looked at; no effect is reported while the sample-ratio check fails.", height=3)
    is_effect = f"{eq(findings.TYPE, findings.TYPE_EXPERIMENT)} and {eq(findings.TEST_NAME, 'msprt')}"
    for metric in ("error_rate", "latency_ms", "accuracy"):
        _add(g, f"{metric}: arm minus control, with its interval", FINDINGS_VIEW, {
            "x": L.date_histogram(), "split": L.terms(findings.EXPERIMENT_ARM, "arm", None, 10),
            "effect": L.stat("average", findings.METRIC_VALUE, "difference"),
            "lower": L.stat("max", findings.EFFECT_LOWER, "interval lower"),
            "upper": L.stat("min", findings.EFFECT_UPPER, "interval upper")}, "line",
             kql=f"{is_effect} and {eq(findings.METRIC_NAME, metric)}", width=16)
    _add(g, "Effects (latest analysis)", FINDINGS_VIEW, {
        "experiment": L.terms(findings.EXPERIMENT_ID, "experiment", None, 50, other=False),
        "arm": L.terms(findings.EXPERIMENT_ARM, "arm", None, 20, other=False),
        "metric": L.terms(findings.METRIC_NAME, "metric", None, 10, other=False),
        "effect": L.last_value(findings.METRIC_VALUE, "difference", "number"),
        "lower": L.last_value(findings.EFFECT_LOWER, "lower", "number"),
        "upper": L.last_value(findings.EFFECT_UPPER, "upper", "number"),
        "q": L.last_value(findings.TEST_P_VALUE_ADJUSTED, "q-value", "number")}, "table", kql=is_effect, width=48)
    _add(g, "Verdicts", FINDINGS_VIEW, {
        "experiment": L.terms(findings.EXPERIMENT_ID, "experiment", None, 50, other=False),
        "arm": L.terms(findings.EXPERIMENT_ARM, "arm", None, 20, other=False),
        "verdict": L.last_value(findings.EXPERIMENT_VERDICT, "latest verdict"),
        "units": L.last_value(findings.SAMPLE_COUNT, "units", "number"),
        "control": L.last_value(findings.REFERENCE_COUNT, "control units", "number")}, "table",
         kql=f"{eq(findings.TYPE, findings.TYPE_EXPERIMENT)} and {findings.EXPERIMENT_VERDICT} : *", width=24)
    _add(g, "Sample-ratio check (p-value; below 0.001 withholds every effect)", FINDINGS_VIEW, {
        "x": L.date_histogram(), "split": L.terms(findings.EXPERIMENT_ID, "experiment", None, 10),
        "p": L.stat("min", findings.TEST_P_VALUE, "SRM p-value")}, "line",
         kql=f"{eq(findings.TYPE, findings.TYPE_EXPERIMENT)} and {eq(findings.TEST_NAME, 'srm_chi_square')}",
         width=24)
    return L.dashboard(DASHBOARDS["experiments"], "[modelspan] Experiments",
                       "Champion/challenger and A/B experiments: effects with always-valid intervals, verdicts, "
                       "sample-ratio checks.", g)


def saved_objects() -> list[Json]:
    """Every dashboard and saved search (data views come from ``_views``)."""
    return [*incident_searches(), ops.sampled_calls_search(), overview(), model_page(), drift(), quality(), paths(),
            incidents(), experiments()]
