"""Which threads touched the network: the structural form of "export() never waits on the network".

Timing an ``export()`` call proves nothing on a loaded machine (and flakes); recording the threads
that open or write to a socket says directly whether the caller's thread did network I/O.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


class NetworkThreads:
    """Thread idents that called ``socket.connect``/``sendall``/``send`` while recording."""

    def __init__(self) -> None:
        self.idents: set[int] = set()
        self._lock = threading.Lock()

    def saw(self) -> None:
        with self._lock:
            self.idents.add(threading.get_ident())

    @property
    def this_thread(self) -> bool:
        """Whether the calling thread did any network I/O."""
        return threading.get_ident() in self.idents


@contextmanager
def network_threads(monkeypatch: pytest.MonkeyPatch) -> Iterator[NetworkThreads]:
    record = NetworkThreads()
    for name in ("connect", "sendall", "send"):
        original = getattr(socket.socket, name)

        def spy(self: socket.socket, *args: Any, _original: Any = original) -> Any:
            record.saw()
            return _original(self, *args)

        monkeypatch.setattr(socket.socket, name, spy)
    try:
        yield record
    finally:
        monkeypatch.undo()
