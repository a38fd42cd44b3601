"""The on-disk spool: bounded, ordered, claimed by one process at a time, surviving restarts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelspan.exporters._bulk import Item, encode_documents
from modelspan.exporters._spool import Spool


def items(count: int, start: int = 0) -> list[Item]:
    documents = [{"@timestamp": "1.0", "trace_id": f"{n:032x}", "span_id": f"{n:016x}",
                  "data_stream": {"type": "traces", "dataset": "modelspan.otel", "namespace": "default"}}
                 for n in range(start, start + count)]
    return encode_documents(documents)


def test_oldest_batch_comes_back_first_and_release_deletes(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**6)
    assert spool.empty()
    first, second = items(3), items(2, start=3)
    assert spool.append(first) and spool.append(second)
    assert spool.size()["spool_documents"] == 5
    segment = spool.claim_oldest()
    assert segment is not None and segment.items == first
    spool.release(segment)
    segment = spool.claim_oldest()
    assert segment is not None and segment.items == second
    spool.release(segment, remaining=second[1:])  # one left to send
    segment = spool.claim_oldest()
    assert segment is not None and segment.items == second[1:]
    spool.release(segment)
    assert spool.empty() and spool.size() == {"spool_bytes": 0, "spool_documents": 0}


def test_bound_refuses_batches_that_do_not_fit(tmp_path: Path) -> None:
    batch = items(5)
    size = sum(len(item.lines) for item in batch)
    spool = Spool(tmp_path, max_bytes=size * 2)
    assert spool.append(batch) and spool.append(items(5, start=5))
    assert not spool.append(items(1, start=10))
    assert spool.size()["spool_bytes"] <= size * 2


def test_a_claimed_file_is_invisible_to_others_and_released_when_its_owner_died(tmp_path: Path) -> None:
    Spool(tmp_path, max_bytes=10**6).append(items(2))
    mine = Spool(tmp_path, max_bytes=10**6)
    segment = mine.claim_oldest()
    assert segment is not None
    assert Spool(tmp_path, max_bytes=10**6).claim_oldest() is None  # claimed by a live process (us)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    os.replace(segment.path, segment.path.with_name(segment.path.name.rsplit("-", 1)[0] + f"-{pid}"))
    again = Spool(tmp_path, max_bytes=10**6).claim_oldest()
    assert again is not None and again.items == segment.items


def test_counts_survive_a_restart(tmp_path: Path) -> None:
    Spool(tmp_path, max_bytes=10**6).append(items(4))
    assert Spool(tmp_path, max_bytes=10**6).size()["spool_documents"] == 4


def test_max_bytes_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Spool(tmp_path, max_bytes=0)
