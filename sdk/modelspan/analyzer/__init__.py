"""The analyzer: turns the store's sufficient statistics into findings.

Statistics live in small pure modules (``drift``, ``multiple_testing``, ``thresholds``,
``quality``, ``latency``) so both store backends share one implementation of every number.
:func:`analyze` runs them over a window and writes findings back (see ``docs/analyzer.md``)::

    from modelspan.analyzer import analyze
    from modelspan.store import Window, open_store

    with open_store() as store:
        analysis = analyze(store, Window.parse("2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z"))
    for finding in analysis.flagged:
        print(finding["finding.summary"])

``analyze`` and ``Analysis`` are loaded on first use, so importing one statistics module does not
import the engine (and the engine's imports of the statistics modules cannot cycle).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelspan.analyzer._engine import Analysis, analyze

__all__ = ["Analysis", "analyze"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from modelspan.analyzer import _engine

        return getattr(_engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
