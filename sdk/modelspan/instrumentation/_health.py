"""Monitoring's own health: every failure inside modelspan is caught here, counted and logged once.

Telemetry never breaks inference (docs/architecture.md, decision 6). Code paths that observe a user's call
wrap their work in ``try/except Exception`` and hand the exception to :func:`record_error`; the
user's call carries on untouched. The process-wide count is exposed as
``modelspan.monitoring_errors()`` and each affected span carries ``ml.monitoring.errors``.
"""

from __future__ import annotations

import logging
import threading

logger = logging.getLogger("modelspan")

_lock = threading.Lock()
_count = 0
_logged: set[str] = set()


def record_error(where: str, exc: BaseException) -> None:
    """Count a monitoring failure at ``where`` and log it the first time ``where`` fails."""
    global _count
    with _lock:
        _count += 1
        first = where not in _logged
        if first:
            _logged.add(where)
    if first:
        # Logged once per place so a hot loop of bad inputs cannot flood the application's logs.
        logger.warning(
            "modelspan: monitoring failed in %s (counted; further failures here are not logged)",
            where,
            exc_info=exc,
        )


def monitoring_errors() -> int:
    """Number of monitoring failures swallowed in this process since start.

    >>> import modelspan
    >>> modelspan.monitoring_errors() >= 0
    True
    """
    return _count
