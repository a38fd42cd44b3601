"""The shared fork registry of the exporters (``modelspan.exporters._fork``), through a real
``os.fork()``: the child renews every live registered exporter exactly once, the parent none."""

from __future__ import annotations

import gc
import json
import os
import weakref
from typing import Any

import pytest

from modelspan.exporters import _fork
from tests.exporters.test_fork import _wait

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


class Renewable:
    """Stands for an exporter: records the processes it was renewed in."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.renewed_in: list[int] = []

    def _after_fork(self) -> None:
        self.renewed_in.append(os.getpid())


class Broken(Renewable):
    def _after_fork(self) -> None:
        raise OSError("cannot reopen the socket")


def _renewals_in_child(*exporters: Renewable, caplog: pytest.LogCaptureFixture | None = None) -> dict[str, list[Any]]:
    """Fork; the child reports (through a pipe) the pids each exporter was renewed in, and what it logged."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            os.close(read)
            report = {exporter.name: exporter.renewed_in for exporter in exporters}
            report["child"] = [os.getpid()]
            report["logged"] = [record.getMessage() for record in caplog.records] if caplog else []
            os.write(write, json.dumps(report).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        body = pipe.read()
    assert _wait(pid) == 0
    return json.loads(body)  # type: ignore[no-any-return]


def test_every_registered_exporter_is_renewed_once_in_the_child_and_never_in_the_parent() -> None:
    first, second = Renewable("first"), Renewable("second")
    for exporter in (first, second, first):  # registering twice renews once
        _fork.register(exporter)
    report = _renewals_in_child(first, second)
    child = report["child"]
    assert report["first"] == child and report["second"] == child
    assert child[0] != os.getpid()
    assert first.renewed_in == [] and second.renewed_in == []  # the parent keeps its state


def test_a_failing_exporter_is_logged_and_the_others_are_still_renewed(caplog: pytest.LogCaptureFixture) -> None:
    broken, healthy = Broken("broken"), Renewable("healthy")
    for exporter in (broken, healthy):
        _fork.register(exporter)
    report = _renewals_in_child(broken, healthy, caplog=caplog)
    assert report["healthy"] == report["child"]
    assert "modelspan: Broken could not renew its state in a forked child" in report["logged"]


def test_the_registry_keeps_no_exporter_alive() -> None:
    exporter = Renewable("gone")
    _fork.register(exporter)
    alive = weakref.ref(exporter)
    del exporter
    gc.collect()
    assert alive() is None
