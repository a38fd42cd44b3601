"""What the report shows, gathered from the store: nothing here computes a statistic.

Findings come from ``store.read_findings`` (exactly what the CLI, Kibana and the alerts read);
counts, percentiles and intervals from ``store.model_stats`` (the analyzer's own questions). Two
calls: the first asks, per model version, for calls in ``SCAN_POINTS`` intervals of the window, to
find the part of the window that holds traffic (five minutes of traffic in a 24-hour window are
charted over those minutes, not squashed into one point); the second asks everything else, for
every model version and every window a drifting feature is shown for. The only arithmetic is
turning counts into shares for drawing.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from modelspan import findings as F
from modelspan.baseline import Baseline, FeatureProfile
from modelspan.store import ColumnStats, Interval, ModelStats, Question, Store, Window

POINTS = 40
"""About this many intervals on the time charts, whatever the length of the traffic they cover."""
SCAN_POINTS = 400
"""Intervals of the first question, which finds where in the window the traffic is."""
MIN_CHARTED = _dt.timedelta(minutes=2)
"""Shortest span the time charts cover (a single burst of calls still gets a few intervals)."""


@dataclass
class Distribution:
    """A drifting feature's reference vs current shares over the same bins (or categories)."""

    feature: str
    window: Window
    reference_kind: str
    labels: list[str]
    reference: list[float]
    current: list[float]
    summary: str
    strength: float = 0.0
    """The finding's score over its threshold: the most drifted features are drawn first."""


@dataclass
class ModelReport:
    """One model version: its window statistics, baseline, findings and drifting distributions."""

    model: str
    version: str
    stats: ModelStats
    baseline: Baseline | None
    findings: list[dict[str, Any]]
    distributions: list[Distribution] = field(default_factory=list)
    charted: Window | None = None
    """The part of the report's window the time charts cover: where this version had traffic."""

    @property
    def flagged(self) -> list[dict[str, Any]]:
        return [doc for doc in self.findings if doc.get(F.FLAGGED)]


@dataclass
class ReportData:
    """Everything one report shows."""

    window: Window
    generated_at: _dt.datetime
    models: list[ModelReport]
    findings: list[dict[str, Any]]
    """All findings in the window (model, application and incident findings)."""
    experiments: list[dict[str, Any]] = field(default_factory=list)
    """``experiment`` findings of analyses that ended in the window (experiments start before it)."""


def collect(store: Store, window: Window) -> ReportData:
    """Ask the store for the window's model versions, statistics and findings."""
    documents = sorted(_read_findings(store, window), key=lambda d: str(d.get(F.WINDOW_START, "")))
    versions = [(name, version) for name, version, _ in store.models(window)]
    baselines = {key: _baseline(store, key[0], key[1]) for key in versions}
    charted = traffic_windows(store, window, versions)
    questions: list[Question] = []
    for key, span in zip(versions, charted, strict=True):
        question = store.question(key[0], key[1], span, baselines[key])
        questions.append(dataclasses.replace(question, interval_seconds=max(1, int(span.seconds // POINTS))))
    wanted: list[tuple[int, dict[str, Any], Window]] = []  # (model index, drift finding, window asked)
    for index, (name, version) in enumerate(versions):
        for doc in _drifting(documents, name, version):
            windows = [_window(doc, F.WINDOW_START, F.WINDOW_END)]
            if doc.get(F.REFERENCE_KIND) == "window" and doc.get(F.REFERENCE_START):
                windows.append(_window(doc, F.REFERENCE_START, F.REFERENCE_END))
            for asked in windows:
                wanted.append((index, doc, asked))
                questions.append(store.question(name, version, asked, baselines[(name, version)]))
    answers: list[ModelStats] = store.model_stats(questions) if questions else []
    reports = []
    for index, (name, version) in enumerate(versions):
        mine = [d for d in documents if d.get(F.MODEL_NAME) == name and d.get(F.MODEL_VERSION) == version]
        reports.append(ModelReport(name, version, answers[index], baselines[(name, version)], mine,
                                   charted=_fitted(charted[index], answers[index].operations.intervals)))
    _distributions(reports, wanted, answers[len(versions):])
    return ReportData(window, _dt.datetime.now(_dt.timezone.utc), reports, documents, _experiments(store, window))


def _experiments(store: Any, window: Window) -> list[dict[str, Any]]:
    start, end = window.iso()
    documents: list[dict[str, Any]] = store.read_findings(types=[F.TYPE_EXPERIMENT])
    return [d for d in documents if start <= str(d.get(F.WINDOW_END, "")) <= end]


def traffic_windows(store: Store, window: Window, versions: Sequence[tuple[str, str]]) -> list[Window]:
    """Per model version, the part of ``window`` that holds its calls, at least ``MIN_CHARTED`` long.

    One question per version for its calls in ``SCAN_POINTS`` intervals (no columns: cheap on
    either backend); the traffic lies between the first and the last interval with calls. The
    charts' own, finer intervals then trim it again (``collect``).
    """
    step = max(1, int(window.seconds // SCAN_POINTS))
    scans = store.model_stats([dataclasses.replace(store.question(name, version, window), interval_seconds=step)
                               for name, version in versions]) if versions else []
    return [_fitted(window, scan.operations.intervals) for scan in scans]


def _fitted(window: Window, intervals: Sequence[Interval]) -> Window:
    """From the first to the end of the last interval with calls, within ``window``.

    The length of an interval is read from the answer: a backend may merge the asked intervals
    (Elasticsearch does, to stay under its bucket limit).
    """
    busy = [i.start for i in intervals if i.calls]
    if not busy:
        return window
    step = intervals[1].start - intervals[0].start if len(intervals) > 1 else window.end - intervals[0].start
    start = max(window.start, min(busy))
    end = min(window.end, max(busy) + step)
    if end <= start:
        return window
    missing = MIN_CHARTED - (end - start)
    if missing > _dt.timedelta(0):
        start, end = max(window.start, start - missing / 2), min(window.end, end + missing / 2)
    return Window(start, end)


def _read_findings(store: Store, window: Window) -> list[dict[str, Any]]:
    return store.read_findings(window=window)


def _baseline(store: Store, model: str, version: str) -> Baseline | None:
    return store.load_baseline(model, version)


def _drifting(documents: Sequence[dict[str, Any]], model: str, version: str) -> list[dict[str, Any]]:
    """Flagged drift findings of one model version, one per (feature, window)."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for doc in documents:
        if (doc.get(F.TYPE) == F.TYPE_DRIFT and doc.get(F.FLAGGED) and doc.get(F.MODEL_NAME) == model
                and doc.get(F.MODEL_VERSION) == version and doc.get(F.FEATURE_NAME)):
            seen.setdefault((str(doc[F.FEATURE_NAME]), str(doc.get(F.WINDOW_START))), doc)
    return list(seen.values())


def _window(doc: dict[str, Any], start: str, end: str) -> Window:
    return Window.parse(str(doc[start]), str(doc[end]))


def _distributions(reports: list[ModelReport], wanted: list[tuple[int, dict[str, Any], Window]],
                   answers: list[ModelStats]) -> None:
    """Pair each drift finding's current-window counts with its reference (profile or window)."""
    by_finding: dict[int, list[ModelStats]] = {}
    for (_, doc, _), stats in zip(wanted, answers, strict=True):
        by_finding.setdefault(id(doc), []).append(stats)
    done: set[int] = set()
    for index, doc, asked in wanted:
        if id(doc) in done:
            continue
        done.add(id(doc))
        report = reports[index]
        feature = str(doc[F.FEATURE_NAME])
        asked_stats = by_finding[id(doc)]
        current = asked_stats[0].columns.get(feature)
        reference_stats = asked_stats[1].columns.get(feature) if len(asked_stats) > 1 else None
        profile = report.baseline.features.get(feature) if report.baseline else None
        if current is None or profile is None:
            continue
        labels, cur = _counts(profile, current)
        if reference_stats is not None:
            kind, (_, ref) = "reference window", _counts(profile, reference_stats)
        else:
            kind, ref = "baseline profile", _profile_counts(profile, len(labels))
        report.distributions.append(Distribution(feature, asked, kind, labels, _shares(ref), _shares(cur),
                                                 str(doc.get(F.SUMMARY, "")), _strength(doc)))


def _strength(doc: dict[str, Any]) -> float:
    score, threshold = doc.get(F.TEST_SCORE), doc.get(F.TEST_THRESHOLD)
    if isinstance(score, (int, float)) and isinstance(threshold, (int, float)) and threshold > 0:
        return float(score) / float(threshold)
    return 0.0


def _counts(profile: FeatureProfile, column: ColumnStats) -> tuple[list[str], list[float]]:
    """Labels of the baseline's bins/categories and this window's counts over them."""
    if profile.kind == "categorical":
        unseen = ", ".join(list(column.unseen_examples)[:3])
        labels = [*list(profile.categories), "(other known)", f"unseen: {unseen}" if unseen else "unseen"]
        counts = [float(c) for c in column.category_counts] + [0.0] * (len(profile.categories)
                                                                        - len(column.category_counts))
        return labels, [*counts, float(column.other_count), float(column.unseen_count)]
    labels = _bin_labels(profile.edges)
    counts = [float(c) for c in column.bin_counts] + [0.0] * (len(labels) - len(column.bin_counts))
    return labels, counts


def _profile_counts(profile: FeatureProfile, size: int) -> list[float]:
    if profile.kind == "categorical":
        counts = [float(c) for c in profile.category_counts] + [float(profile.other_count), 0.0]
    else:
        counts = [float(c) for c in profile.bin_counts]
    return counts + [0.0] * (size - len(counts))


def _bin_labels(edges: Sequence[float]) -> list[str]:
    """Bin i is ``e[i-1] <= x < e[i]``; the first and last bins are open."""
    if not edges:
        return ["all"]
    text = [f"{e:.3g}" for e in edges]
    return [f"<{text[0]}"] + [f"{a}-{b}" for a, b in itertools.pairwise(text)] + [f"≥{text[-1]}"]


def _shares(counts: Sequence[float]) -> list[float]:
    total = sum(counts)
    return [c / total if total else 0.0 for c in counts]
