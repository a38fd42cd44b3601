"""Findings documents: one builder so every finding carries the same identity and window fields.

``finding.id`` is ``type:model:version:subject:window.start`` (design: re-running a window
replaces its findings, never duplicates them). Only names from ``modelspan.findings`` are used,
since the findings index is mapped ``dynamic: strict``.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from modelspan import findings
from modelspan._time import iso
from modelspan.store import Window


@dataclass(frozen=True)
class Context:
    """What every finding of one analysis run shares: the window, the reference, when it ran."""

    window: Window
    reference_kind: str
    reference: Window | None
    analyzed_at: str


def finding_id(kind: str, model: str, version: str, subject: str, window: Window) -> str:
    """>>> from modelspan.store import Window
    >>> finding_id("drift", "churn", "3", "temp", Window.parse("2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z"))
    'drift:churn:3:temp:2026-11-22T10:00:00.000Z'
    """
    return f"{kind}:{model}:{version}:{subject}:{window.iso()[0]}"


def document(
    context: Context,
    kind: str,
    model: str,
    version: str,
    subject: str,
    *,
    flagged: bool,
    summary: str,
    severity: str | None = None,
    timestamp: _dt.datetime | None = None,
    fields: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A findings document; ``fields`` are keyed by ``modelspan.findings`` names (None values dropped)."""
    start, end = context.window.iso()
    body: dict[str, Any] = {
        findings.TIMESTAMP: iso(timestamp) if timestamp is not None else end,
        findings.ID: finding_id(kind, model, version, subject, context.window),
        findings.TYPE: kind,
        findings.FLAGGED: flagged,
        findings.SEVERITY: severity or ("warning" if flagged else "info"),
        findings.SUMMARY: summary,
        findings.ANALYZED_AT: context.analyzed_at,
        findings.MODEL_NAME: model,
        findings.MODEL_VERSION: version,
        findings.WINDOW_START: start,
        findings.WINDOW_END: end,
        findings.REFERENCE_KIND: context.reference_kind,
    }
    if context.reference is not None:
        body[findings.REFERENCE_START], body[findings.REFERENCE_END] = context.reference.iso()
    for name, value in (fields or {}).items():
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            continue  # JSON (and the mapping) has no NaN: an unknown number is left out
        body[name] = value
    unknown = set(body) - findings.field_names()
    if unknown:
        raise ValueError(f"not findings fields: {sorted(unknown)}")
    return body


def number(value: float | None, digits: int = 3) -> str:
    """Numbers in summaries: short, and 'n/a' for unknown.

    >>> number(0.123456), number(None), number(1234567.0), number(1e-12)
    ('0.123', 'n/a', '1.23e+06', '1e-12')
    """
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.{digits}g}"
