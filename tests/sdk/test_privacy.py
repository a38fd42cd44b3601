"""Redaction holds on every input shape, all the way to the bytes that leave the process.

Each shape is sent with raw capture on and ``email`` dropped, ``ssn`` hashed; the model echoes
the email as its output and raises with both values in its message. The SQLite file (read as
bytes, with its WAL) and every bulk body the loopback Elasticsearch received must not hold the
redacted values anywhere, while the hashed ``ssn`` and the plain ``age`` do arrive.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from opentelemetry.sdk.trace import TracerProvider

import modelspan
from modelspan import semconv
from modelspan.instrumentation import _config, _redaction
from tests.exporters.bulk_server import BulkServer

KEY = "privacy-test-key-0123456789"
EMAILS = ("alice.secret@example.com", "bob.hidden@example.org")
SSNS = ("123-45-6789", "987-65-4321")
FEATURES = ["email", "ssn", "age"]
POLICY = {"email": "drop", "ssn": "hash"}

ROWS = [dict(zip(FEATURES, (email, ssn, 41 + n), strict=True))
        for n, (email, ssn) in enumerate(zip(EMAILS, SSNS, strict=True))]
ONE = ROWS[0]

SHAPES: dict[str, Any] = {
    "dict": ONE,
    "list of dicts": ROWS,
    "numpy 1-D": np.array(list(ONE.values()), dtype=object),
    "numpy 2-D": np.array([list(row.values()) for row in ROWS], dtype=object),
    "pandas DataFrame": pd.DataFrame(ROWS),
    "pandas Series": pd.Series(ONE),
    "tuple": tuple(ONE.values()),
    "list": list(ONE.values()),
    "list of lists": [list(row.values()) for row in ROWS],
    "list of tuples": [tuple(row.values()) for row in ROWS],
}


def keyed_hash(value: str) -> str:
    return semconv.REDACTED_HMAC_PREFIX + hmac.new(KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


def echo_model(batch: bool) -> Callable[[Any], Any]:
    """Returns the email(s) it was given: an output that is a redacted field."""
    def predict(data: Any) -> Any:
        return list(EMAILS) if batch else EMAILS[0]
    return predict


def failing_model(data: Any) -> Any:
    raise ValueError(f"cannot score {EMAILS[0]} with ssn {SSNS[0]}")


@pytest.fixture
def stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, BulkServer]]:
    for name in ("MODELSPAN_EXPORTER", "OTEL_TRACES_EXPORTER", "MODELSPAN_REDACT", "MODELSPAN_HASH_KEY"):
        monkeypatch.delenv(name, raising=False)
    with BulkServer(record=True) as server:
        monkeypatch.setenv("ELASTICSEARCH_URL", server.url)
        monkeypatch.setenv("MODELSPAN_SPOOL_DIR", str(tmp_path / "spool"))
        provider = TracerProvider()
        store = tmp_path / "spans.db"
        modelspan.configure(tracer_provider=provider, exporter="sqlite,elasticsearch", store=str(store),
                            capture_inputs=True, redact=POLICY, hash_key=KEY)
        try:
            yield store, server
        finally:
            modelspan.shutdown()
            provider.shutdown()
            _config.STATE.redaction = {}
            _config.STATE.capture_inputs = False
            _redaction.set_key(None)


def stored_bytes(store: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(store.parent.glob(store.name + "*")))


@pytest.mark.parametrize("shape", list(SHAPES), ids=list(SHAPES))
def test_redacted_values_reach_neither_sqlite_nor_elasticsearch(
    shape: str, stores: tuple[Path, BulkServer]
) -> None:
    store, server = stores
    value = SHAPES[shape]
    batch = shape in ("list of dicts", "numpy 2-D", "pandas DataFrame", "list of lists", "list of tuples")
    echo = modelspan.monitor(model="privacy", version="1", features=FEATURES)(echo_model(batch))
    fail = modelspan.monitor(model="privacy", version="1", features=FEATURES)(failing_model)
    assert echo(value) is not None
    with pytest.raises(ValueError, match="cannot score alice"):  # the user's error is untouched
        fail(value)
    modelspan.shutdown()  # flush both exporters and close the store

    files = stored_bytes(store)
    bodies = b"\n".join(server.bodies)
    assert len(server.bodies) >= 1 and len(server.stored) >= 2
    for where, data in (("sqlite", files), ("elasticsearch", bodies)):
        for secret in EMAILS + SSNS:
            assert secret.encode() not in data, f"{secret} leaked into {where} ({shape})"
        # The redaction did not simply lose the call: the hash and the plain feature arrive.
        assert keyed_hash(SSNS[0]).encode() in data, where
        assert b"privacy" in data and b"ValueError" in data and b"cannot score" in data, where
        assert _redaction.REDACTED_TEXT.encode() in data, where
