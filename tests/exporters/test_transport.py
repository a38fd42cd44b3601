"""The exporter's sender: settings come from ``modelspan.elasticsearch.connection`` (tested there)."""

from __future__ import annotations

import socket

import pytest

from modelspan.elasticsearch.connection import resolve_settings
from modelspan.exporters._transport import Transport, TransportError


def test_refused_connection_is_flagged() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = Transport(resolve_settings(f"http://127.0.0.1:{port}", environ={}))
    with pytest.raises(TransportError) as caught:
        transport.bulk(b"{}\n", timeout=1.0)
    assert caught.value.refused
    transport.close()
