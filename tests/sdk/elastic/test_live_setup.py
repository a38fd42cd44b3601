"""``setup`` against a real cluster (``MODELSPAN_TEST_ES_URL``; skipped otherwise).

Installs the templates (no Kibana, no alerts), checks that a second run changes nothing, then
writes a span whose feature's first value is an integer into a throwaway data stream: the mapping
must say ``double`` (the built-in template alone would say ``long``). Removes its data stream and
the templates afterwards; the findings/outcomes indices and ILM policies stay (``teardown``'s default).
"""

from __future__ import annotations

import os
import uuid

import pytest

from modelspan import semconv
from modelspan.elastic import setup, teardown
from modelspan.elastic._http import HttpTransport
from modelspan.elastic._session import Session
from modelspan.elasticsearch import layout
from modelspan.elasticsearch.connection import resolve_settings
from tests.sdk.elastic.assets_fixture import FixtureAssets

URL = os.environ.get("MODELSPAN_TEST_ES_URL")
pytestmark = [
    pytest.mark.live_es,
    pytest.mark.skipif(not URL, reason="needs a live Elasticsearch: set MODELSPAN_TEST_ES_URL"),
]


def test_setup_is_idempotent_and_pins_feature_types_on_a_live_cluster() -> None:
    assert URL is not None
    first = setup(URL, None, alerting="none", assets=FixtureAssets())
    assert setup(URL, None, alerting="none", assets=FixtureAssets()).changed == [], first.summary()
    session = Session(HttpTransport(resolve_settings(URL)))
    stream = f"traces-{semconv.MODELSPAN_DATASET}.otel-t{uuid.uuid4().hex[:8]}"
    field = layout.attr(semconv.feature_value("live_temp"))
    try:
        document = {"@timestamp": "2026-11-23T10:00:00Z", "name": "predict", "duration": 1000,
                    "attributes": {semconv.feature_value("live_temp"): 3, semconv.SPAN_KIND: semconv.SPAN_KIND_MODEL}}
        session.es("POST", f"/{stream}/_doc?refresh=true", "create_doc", document, expect=(200, 201))
        mapping = session.es("GET", f"/{stream}/_mapping/field/{field}", "view_index_metadata").body
        types = {leaf["mapping"][next(iter(leaf["mapping"]))]["type"]
                 for index in mapping.values() for leaf in index["mappings"].values()}
        assert types == {"double"}
    finally:
        session.es("DELETE", f"/_data_stream/{stream}", "delete_index", expect=(200, 404))
        teardown(URL, None, assets=FixtureAssets())
