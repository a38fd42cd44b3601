"""Monitoring's own failures: each counted, each place logged exactly once (with the exception)."""

from __future__ import annotations

import logging
import uuid

import pytest

import modelspan
from modelspan.instrumentation import _health


def test_each_place_is_logged_once_and_every_failure_counted(caplog: pytest.LogCaptureFixture) -> None:
    first, second = f"test-{uuid.uuid4()}", f"test-{uuid.uuid4()}"
    before = modelspan.monitoring_errors()
    with caplog.at_level(logging.WARNING, logger="modelspan"):
        for _ in range(3):
            _health.record_error(first, ValueError("bad row"))
        _health.record_error(second, KeyError("x"))
    assert modelspan.monitoring_errors() == before + 4
    records = [r for r in caplog.records if "monitoring failed" in r.getMessage()]
    assert [r.getMessage().split(" in ")[1].split(" ")[0] for r in records] == [first, second]
    assert all(r.levelno == logging.WARNING and r.name == "modelspan" for r in records)
    assert records[0].exc_info is not None and isinstance(records[0].exc_info[1], ValueError)
