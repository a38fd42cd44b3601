"""A categorical feature whose values look like numbers, stored under a numeric mapping.

Spans written before ``modelspan elastic setup`` pinned a feature as ``keyword`` are mapped by
Elasticsearch's dynamic mapping from the first value: ``ml.feature.zip = 12345`` becomes ``long``
(or ``double``), and its terms buckets come back as numbers. The baseline spells its categories as
text (``"12345"``). Unchanged traffic must count in the baseline's categories, not as "other".
"""

from __future__ import annotations

import numpy as np
import pytest

from modelspan import semconv
from modelspan.baseline import Baseline
from modelspan.store.elasticsearch import ElasticsearchStore
from modelspan.store.types import Column, Question, columns_for
from tests.store.elasticsearch.fake_es import FakeElasticsearch
from tests.store.elasticsearch.traffic import INDEX, WINDOW

CODES = [12345, 23456, 99999]


def _documents(values: list[float | int]) -> list[dict]:
    start = WINDOW.start.timestamp()
    return [{"@timestamp": f"{np.datetime64(int((start + i) * 1000), 'ms')}Z", "duration": 1_000_000,
             "status": {"code": "Ok"},
             "attributes": {semconv.SPAN_KIND: semconv.SPAN_KIND_MODEL, semconv.MODEL_NAME: "zips",
                            semconv.MODEL_VERSION: "1", semconv.feature_value("zip"): value}}
            for i, value in enumerate(values)]


@pytest.mark.parametrize("as_stored", [float, int], ids=["double mapping", "long mapping"])
def test_numeric_looking_categories_match_the_baseline_whatever_the_mapping(as_stored: type) -> None:
    rng = np.random.default_rng(3)
    reference = rng.choice(CODES, 3000, p=[0.5, 0.3, 0.2]).tolist()
    baseline = Baseline.from_data({"zip": reference}, model="zips", version="1", categorical=["zip"])
    assert set(baseline.features["zip"].categories) == {str(code) for code in CODES}
    current = rng.choice(CODES, 600, p=[0.5, 0.3, 0.2]).tolist()
    with FakeElasticsearch() as fake:
        fake.add(INDEX, _documents([as_stored(value) for value in current]))
        with ElasticsearchStore(fake.url) as store:
            question = Question("zips", "1", WINDOW, 300, baseline.id, columns_for(baseline))
            stats, = store.model_stats([question])
    zips = stats.columns["zip"]
    column: Column = next(c for c in question.columns if c.name == "zip")
    expected = [current.count(int(category)) for category in column.categories]
    assert zips.category_counts == expected and sum(expected) == 600
    assert zips.other_count == 0 and zips.unseen_count == 0 and zips.unseen_examples == {}
