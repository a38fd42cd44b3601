"""Baseline files stay what they were: ``save`` writes the same bytes for the same data, a saved file
loads and saves again byte for byte (calibration, error model and multiclass calibration included), and
pickles name the classes by their public module, so files and pickles written before a refactoring of
``modelspan.baseline`` read the same after it.

The golden files in ``baseline_golden/`` were written by ``Baseline.save``; ``profiled.json`` from
:func:`profiled` (values whose quantiles, means and deviations are exact in binary floating point, so no
numpy release rounds them differently), the ``learned_*.json`` ones from labelled reference sets.
"""

from __future__ import annotations

import pickle
import pickletools
from pathlib import Path

import pytest

from modelspan.baseline import Baseline, FeatureProfile

GOLDEN = Path(__file__).parent / "baseline_golden"
CREATED_AT = "2026-12-03T00:00:00.000Z"


def profiled() -> Baseline:
    """Every kind of profile: numeric with nulls and point masses, categorical, text, output, latency."""
    data = {
        "x": [0.0, 1.0, 2.0, 3.0, None] * 8,
        "k": ["a", "b", "a", "c", None] * 8,
        "t": ["", "ab", "a cd", "ab cd "] * 10,
        "label": [0, 1, 1, 0, 1] * 8,
    }
    baseline = Baseline.from_data(data, model="golden", version="1", output="label", text=["t"],
                                  latency_ms=[1.0, 2.0, 4.0, 8.0] * 10, bins=4)
    baseline.created_at = CREATED_AT
    return baseline


def test_the_same_data_is_saved_as_the_same_bytes(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    profiled().save(path)
    assert path.read_bytes() == (GOLDEN / "profiled.json").read_bytes()


@pytest.mark.parametrize("name", ["profiled", "learned_binary", "learned_regression", "learned_multiclass"])
def test_a_saved_baseline_loads_and_saves_byte_for_byte(name: str, tmp_path: Path) -> None:
    golden = GOLDEN / f"{name}.json"
    baseline = Baseline.load(golden)
    assert baseline.content_id() == baseline.id
    learned = (baseline.calibration, baseline.error_model, baseline.multiclass_calibration)
    assert (name == "profiled") == all(item is None for item in learned)
    again = tmp_path / "again.json"
    baseline.save(again)
    assert again.read_bytes() == golden.read_bytes()


def _globals(payload: bytes) -> set[str]:
    return {str(arg) for op, arg, _ in pickletools.genops(payload) if op.name == "GLOBAL" and "modelspan" in str(arg)}


def test_pickles_name_the_public_module() -> None:
    baseline = Baseline.load(GOLDEN / "learned_binary.json")
    payload = pickle.dumps(baseline, protocol=2)  # protocol 2 names each class in one GLOBAL opcode
    assert _globals(payload) == {
        "modelspan.baseline Baseline",
        "modelspan.baseline FeatureProfile",
        "modelspan.profiling._calibration Calibration",
    }
    assert pickle.loads(payload) == baseline
    profile = FeatureProfile.from_values("t", ["the cat", "a dog"], "text")
    assert _globals(pickle.dumps(profile, protocol=2)) == {"modelspan.baseline FeatureProfile"}
