"""The examples in the statistics modules' docstrings run and stay right."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "modelspan.analyzer.drift",
    "modelspan.analyzer.drift._core",
    "modelspan.analyzer.drift.psi",
    "modelspan.analyzer.drift.jensen_shannon",
    "modelspan.analyzer.drift.hellinger",
    "modelspan.analyzer.drift.chi_square",
    "modelspan.analyzer.drift.ks",
    "modelspan.analyzer.drift.wasserstein",
    "modelspan.analyzer.drift.new_category",
    "modelspan.analyzer.drift.oov",
    "modelspan.analyzer.multiple_testing",
    "modelspan.analyzer.thresholds",
    "modelspan.analyzer.performance",
    "modelspan.analyzer.rates",
    "modelspan.analyzer.severity",
    "modelspan.analyzer.latency",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0 or name == "modelspan.analyzer.drift._core"
