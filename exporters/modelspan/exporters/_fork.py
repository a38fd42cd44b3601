"""A forked child starts its exporters afresh (gunicorn ``--preload``, multiprocessing's ``fork``).

``os.fork()`` copies the parent's memory but only the calling thread: an exporter's sender thread
is gone in the child and its pooled sockets are the parent's. Each exporter that holds such state
calls :func:`register` once when it is built; after a fork the child calls every live one's
``_after_fork()``, which renews that state (as opentelemetry-python's ``BatchSpanProcessor`` does).

The registry holds weak references, so registering keeps no exporter alive; the one
``os.register_at_fork`` handler is installed by the first :func:`register` (a handler cannot be
removed, so it must not be installed once per exporter). One exporter whose renewal fails is
logged and the others are still renewed.
"""

from __future__ import annotations

import logging
import os
import weakref
from typing import Protocol

_log = logging.getLogger(__name__)


class ForkAware(Protocol):
    """An exporter with per-process state to renew in a forked child."""

    def _after_fork(self) -> None: ...


_live: weakref.WeakSet[ForkAware] = weakref.WeakSet()
_installed: list[bool] = []


def register(exporter: ForkAware) -> None:
    """Renew ``exporter`` in every child this process forks from now on (while it is alive)."""
    if not _installed and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _installed.append(True)
    _live.add(exporter)


def _after_fork_in_child() -> None:
    for exporter in list(_live):
        try:
            exporter._after_fork()
        except Exception:  # one exporter's failure must not leave the others on the parent's sockets
            _log.exception("modelspan: %s could not renew its state in a forked child", type(exporter).__name__)
