"""Module paths: the distribution of paths per output against the reference, and novel paths.

A path is *novel* for an output label when the reference never saw that path for that label;
such calls are flagged with example trace ids to open. Calls recorded without a label (batch
calls keep their labels per row, regression outputs have none) are compared with the paths of
every label. The distribution of paths per label is compared with Jensen-Shannon distance and
flagged past its threshold with enough calls on both sides.

The reference is the baseline's ``module_paths`` (captured with ``Baseline.capture``) or the paths
of a production window. A baseline made from training data alone has no paths: then nothing is
judged (every path would look novel).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from modelspan import findings
from modelspan.analyzer import drift
from modelspan.analyzer._documents import Context, document, number
from modelspan.baseline import Baseline
from modelspan.store import ModelStats
from modelspan.store._answers import EMPTY_KEY

TEST = "jensen_shannon"
ANY_LABEL = "*"


def reference_paths(reference: ModelStats | None, baseline: Baseline | None) -> dict[str, dict[str, int]]:
    """label -> path key -> calls, from the production reference window or else the baseline."""
    if reference is not None:
        return by_label(reference)
    return {label: dict(paths) for label, paths in (baseline.module_paths if baseline else {}).items()}


def by_label(stats: ModelStats) -> dict[str, dict[str, int]]:
    """The window's paths regrouped as label -> path key -> calls."""
    grouped: dict[str, dict[str, int]] = defaultdict(dict)
    for path, path_stats in stats.paths.items():
        for label, count in path_stats.labels.items():
            grouped[label][path] = grouped[label].get(path, 0) + count
    return dict(grouped)


def path_findings(context: Context, current: ModelStats, reference: ModelStats | None,
                  baseline: Baseline | None) -> list[dict[str, Any]]:
    """Novel-path and path-distribution findings of one model version."""
    known = reference_paths(reference, baseline)
    if not any(known.values()):
        return []
    every: dict[str, int] = defaultdict(int)
    for paths in known.values():
        for path, count in paths.items():
            every[path] += count
    docs = []
    for label, paths in sorted(by_label(current).items()):
        expected = known.get(label) if label not in (EMPTY_KEY, ANY_LABEL) else None
        expected = expected if expected is not None else dict(every)
        for path, count in sorted(paths.items()):
            if path not in expected:
                docs.append(_novel(context, current, label, path, count))
        docs.append(_distribution(context, current, label, expected, paths))
    return docs


def _novel(context: Context, stats: ModelStats, label: str, path: str, count: int) -> dict[str, Any]:
    shown = path or "(no sub-module)"
    output = f"output '{label}'" if label not in (EMPTY_KEY, ANY_LABEL) else "any output"
    traces = stats.paths[path].trace_ids[: findings.MAX_EXAMPLE_TRACES]
    return document(
        context, findings.TYPE_NOVEL_PATH, stats.model, stats.version, f"{label}|{path}", flagged=True,
        summary=f"novel module path '{shown}' in model {stats.model} v{stats.version}: {count} calls with "
                f"{output} took a path never seen for it (e.g. trace {traces[0] if traces else 'n/a'})",
        fields={findings.MODULE_PATH: path, findings.OUTPUT_LABEL: label or None, findings.SAMPLE_COUNT: count,
           findings.TRACE_IDS: traces})


def _distribution(context: Context, stats: ModelStats, label: str, expected: dict[str, int],
                  paths: dict[str, int]) -> dict[str, Any]:
    result = drift.run(TEST, drift.Categories(expected), drift.Categories(paths))
    flagged = bool(result.enough_data and result.drifted)
    output = f"output '{label}'" if label not in (EMPTY_KEY, ANY_LABEL) else "calls without a label"
    summary = (f"module paths of {output} in model {stats.model} v{stats.version}: {TEST} "
               f"{number(result.score)} (threshold {number(result.threshold)}, {sum(paths.values())} calls)")
    if flagged:
        summary = "path distribution changed: " + summary
    return document(
        context, findings.TYPE_PATH_DRIFT, stats.model, stats.version, label or "_unlabelled", flagged=flagged,
        summary=summary, fields={findings.OUTPUT_LABEL: label or None, findings.TEST_NAME: TEST,
                            findings.TEST_SCORE: float(result.score), findings.TEST_THRESHOLD: float(result.threshold),
                            findings.TEST_P_VALUE: result.p_value, findings.SAMPLE_COUNT: sum(paths.values()),
                            findings.REFERENCE_COUNT: sum(expected.values())})
