"""The report's tables: findings, the grouped overview of flagged findings, and incidents.

A model with fifty drifting features has a hundred flagged findings; the overview then lists one
row per finding type (how many, the worst severity, which subjects) and keeps the full table in a
closed ``<details>``, so the page still starts with what matters.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from modelspan import findings as F

OVERVIEW_ROWS = 10
"""Up to this many flagged findings are listed one by one in the overview; more are grouped by type."""
SUBJECTS_SHOWN = 8
_SEVERITY_ORDER = ("critical", "warning", "info")


def findings_table(documents: Sequence[dict[str, Any]]) -> str:
    if not documents:
        return '<p class="empty">None.</p>'
    rows = "".join(
        f"<tr><td>{escape(str(d.get(F.SEVERITY, '')))}</td><td>{escape(short(d.get(F.WINDOW_START)))}</td>"
        f"<td class=\"flag\">{escape(str(d.get(F.TYPE)))}</td>"
        f"<td>{escape(subject(d))}</td><td>{escape(str(d.get(F.SUMMARY, '')))}</td></tr>"
        for d in F.ordered(documents))
    return ("<table><tr><th>severity</th><th>window</th><th>type</th><th>subject</th><th>summary</th></tr>" + rows
            + "</table>")


def folded(documents: Sequence[dict[str, Any]], what: str) -> str:
    """``findings_table``, inside a closed ``<details>`` when longer than ``OVERVIEW_ROWS``."""
    if len(documents) <= OVERVIEW_ROWS:
        return findings_table(documents)
    return f"<details><summary>{len(documents)} {escape(what)}</summary>{findings_table(documents)}</details>"


def flagged_overview(documents: Sequence[dict[str, Any]]) -> str:
    """The flagged findings: one by one when few, else one row per type and the full table folded away."""
    if len(documents) <= OVERVIEW_ROWS:
        return findings_table(documents)
    groups: dict[str, list[dict[str, Any]]] = {}
    for doc in F.ordered(documents):
        groups.setdefault(str(doc.get(F.TYPE)), []).append(doc)
    rows = []
    for kind, docs in groups.items():
        severities = {str(d.get(F.SEVERITY, "")) for d in docs}
        worst = next((s for s in _SEVERITY_ORDER if s in severities), ", ".join(sorted(severities)))
        subjects = list(dict.fromkeys(subject(d).split(" ", 1)[-1] for d in docs if subject(d)))
        listed = ", ".join(subjects[:SUBJECTS_SHOWN])
        if len(subjects) > SUBJECTS_SHOWN:
            listed += f" and {len(subjects) - SUBJECTS_SHOWN} more"
        rows.append(f'<tr><td class="flag">{escape(kind)}</td><td>{len(docs)}</td><td>{escape(worst)}</td>'
                    f"<td>{escape(listed)}</td></tr>")
    return ('<table class="grouped"><tr><th>type</th><th>flagged</th><th>worst severity</th><th>subjects</th></tr>'
            + "".join(rows) + "</table>" + folded(documents, "flagged findings, one by one"))


def incidents_section(documents: Sequence[dict[str, Any]]) -> str:
    incidents = F.ordered(d for d in documents if d.get(F.TYPE) == F.TYPE_INCIDENT)
    app = [d for d in documents if d.get(F.TYPE) in (F.TYPE_APP_ERRORS, F.TYPE_APP_LATENCY) and d.get(F.FLAGGED)]
    rows = "".join(
        f"<tr><td>{escape(str(d.get(F.INCIDENT_KIND, '')))}</td><td>{escape(short(d.get(F.WINDOW_START)))}</td>"
        f"<td>{_share(d.get(F.INCIDENT_EVIDENCE_SHARE))}</td><td>{escape(str(d.get(F.SUMMARY, '')))}</td>"
        f"<td>{_traces(d)}</td></tr>" for d in incidents)
    table = ("<table><tr><th>kind</th><th>window</th><th>evidence</th><th>summary</th><th>example traces</th></tr>"
             + rows + "</table>") if incidents else '<p class="empty">No incidents in this window.</p>'
    title = "Incidents (model findings linked to application errors through shared traces)"
    return (f'<h2>Incidents</h2><section class="chart" data-chart="incidents"><h3>{escape(title)}</h3>{table}'
            f"<h3>Application findings</h3>{findings_table(app)}</section>")


def subject(doc: dict[str, Any]) -> str:
    for key in (F.FEATURE_NAME, F.MODULE_NAME, F.MODULE_PATH, F.METRIC_NAME, F.ROUTE, F.SERVICE_NAME):
        if doc.get(key):
            return f"{key.split('.')[0]} {doc[key]}"
    return ""


def _traces(doc: dict[str, Any]) -> str:
    ids = doc.get(F.TRACE_IDS) or []
    return "<br>".join(f"<code>{escape(str(t))}</code>" for t in list(ids)[:3])


def _share(value: Any) -> str:
    return f"{float(value):.0%}" if isinstance(value, (int, float)) else "-"


def short(value: Any) -> str:
    """``HH:MM:SS`` of an ISO time (the report's window is stated once at the top)."""
    text = str(value or "")
    return text[11:19] if len(text) >= 19 else text
