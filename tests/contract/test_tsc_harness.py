"""The contract check itself: it must reject a misspelled aggregation and accept a good body."""

import pytest

from tests.contract.tsc import Case, typecheck


def test_accepts_a_valid_search_body() -> None:
    typecheck([Case("ok", "SearchBody", {"size": 0, "aggs": {"p": {"percentiles": {"field": "duration"}}}})])


def test_rejects_a_misspelled_aggregation() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"\[bad\].*percentile"):
        typecheck([Case("bad", "SearchBody", {"size": 0, "aggs": {"p": {"percentile": {"field": "duration"}}}})])
