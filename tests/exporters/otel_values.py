"""Which attribute values the installed OpenTelemetry API lets through to an exporter.

Before it accepted OTLP's ``AnyValue`` forms, the API decoded ``bytes`` to text and dropped maps
(logging a warning) when a span, event, link or resource was built, so our exporter never sees them.
Tests of how those values are written are skipped, visibly, on such an API (our minimum, 1.27).
"""

from __future__ import annotations

import logging

import pytest
from opentelemetry.attributes import BoundedAttributes


def _keeps_any_value() -> bool:
    logger = logging.getLogger("opentelemetry.attributes")
    was, logger.disabled = logger.disabled, True  # an old API logs the map it drops; not news here
    try:
        kept = dict(BoundedAttributes(attributes={"bytes": b"*", "map": {"a": 1}}))  # type: ignore[dict-item]
    finally:
        logger.disabled = was
    return kept.get("bytes") == b"*" and kept.get("map") == {"a": 1}


ANY_VALUE = _keeps_any_value()
needs_any_value = pytest.mark.skipif(
    not ANY_VALUE, reason="this opentelemetry-api decodes bytes and drops map attributes before an exporter sees them")
