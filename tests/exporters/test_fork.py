"""A process that forks after creating the exporter (gunicorn ``--preload``): the child exports on
its own sender thread and connection, and the parent carries on unharmed."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult

from tests.exporters.bulk_server import BulkServer
from tests.exporters.test_elasticsearch import exporter_for, make_spans, settle, span_id

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def _wait(pid: int, watchdog_s: float = 120.0) -> int:
    """The child's exit code; a child still running after the watchdog is killed (a hang is a failure)."""
    give_up = time.monotonic() + watchdog_s
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > give_up:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return -1
        time.sleep(0.05)


def test_a_forked_child_exports_on_its_own_and_the_parent_carries_on(tmp_path: Path) -> None:
    with BulkServer() as server:
        exporter = exporter_for(server, tmp_path)
        try:
            before = make_spans(3)
            assert exporter.export(before) is SpanExportResult.SUCCESS
            settle(exporter)  # the parent's sender thread is running and holds a pooled connection
            in_child, after = make_spans(4), make_spans(2)
            pid = os.fork()
            if pid == 0:  # the child: no sender thread was copied, the handler must give it its own
                code = 3
                try:
                    exported = exporter.export(in_child) is SpanExportResult.SUCCESS
                    flushed = exporter.force_flush(30_000)
                    code = 0 if exported and flushed and exporter.stats()["stored"] == 3 + 4 else 1
                finally:
                    os._exit(code)
            assert _wait(pid) == 0
            assert {span_id(span) for span in in_child} <= set(server.stored)
            assert exporter.export(after) is SpanExportResult.SUCCESS
            settle(exporter)
            assert set(server.stored) == {span_id(span) for span in before + in_child + after}
            assert exporter.stats()["stored"] == 3 + 2  # the parent's own counts
        finally:
            exporter.shutdown()
