"""The network-threads recorder is not vacuous: network I/O on the calling thread is seen."""

from __future__ import annotations

import socket
import threading

import pytest

from tests.exporters.bulk_server import BulkServer
from tests.exporters.network_threads import network_threads


def test_it_sees_this_thread_and_not_others(monkeypatch: pytest.MonkeyPatch) -> None:
    with BulkServer() as server, network_threads(monkeypatch) as network:
        def elsewhere() -> None:
            with socket.create_connection(("127.0.0.1", server.port)) as connection:
                connection.sendall(b"GET / HTTP/1.0\r\n\r\n")

        other = threading.Thread(target=elsewhere)
        other.start()
        other.join()
        assert network.idents and not network.this_thread
        with socket.create_connection(("127.0.0.1", server.port)) as connection:
            connection.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert network.this_thread
