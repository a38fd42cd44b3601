"""DLE against NannyML's own ``DLE`` on the same data (issue 19; NannyML is a test-only peer).

Both learn E[|y - ŷ| | x, ŷ] and E[(y - ŷ)² | x, ŷ] from the same labelled reference by least squares
and average them over a chunk; they differ in the learner only: NannyML's LightGBM (trees on 255 bins,
interactions), modelspan's additive model on 32 quantile bins per input (``profiling._error_model``).
Fitted to the same reference rows, both carry the same sample noise of that reference, so they differ by
how they smooth it, not by that noise: the bound asserted is that their chunk estimates differ by less
than 3 standard errors of the error model's own mean (its jackknife ``model_mae``, and ``model_mse`` by
the delta method for RMSE), the uncertainty a finite reference leaves in either. A learner that were
biased, or did not converge, by that much would fail it; a bound of the sampling error of a chunk
(~0.013 at 2,000 rows) would let nearly anything pass.

Data: y = 2x + x·N(0, 1), x ~ U(0, 2) on a reference of 20,000 rows, a model predicting 2x; chunks of
2,000 rows without a shift and with x ~ U(1, 2) and U(0, 1); four seeds (docs/estimation.md).
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from modelspan.profiling._error_model import ErrorModel, fit_error_model
from tests.sdk.analyzer.dle_traffic import draw

os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"  # NannyML sends usage statistics unless told not to
nannyml = pytest.importorskip(
    "nannyml", reason="nannyml (the DLE peer) is not installed: the test extra has it on Python 3.11 and 3.12 only "
    "(it supports no later Python, and pip cannot resolve it at the minimum versions, docs/testing.md)")
pd = pytest.importorskip("pandas")

CHUNK, CHUNKS, REFERENCE = 2_000, 6, 20_000  # NannyML warns below 6 chunks
SHIFTS = {"none": (0.0, 2.0), "U(1, 2)": (1.0, 2.0), "U(0, 1)": (0.0, 1.0)}
SEEDS = range(4)


def frame(rng: np.random.Generator, rows: int, low: float = 0.0, high: float = 2.0) -> pd.DataFrame:
    x, predicted, target = draw(rng, rows, low, high)
    return pd.DataFrame({"x": x, "pred": predicted, "y": target})


def compare(seed: int) -> tuple[ErrorModel, dict[str, dict[str, np.ndarray]]]:
    """Per shift, modelspan's and NannyML's MAE and RMSE of each chunk, and its true expected MAE."""
    rng = np.random.default_rng(seed)
    reference = frame(rng, REFERENCE)
    peer = nannyml.DLE(feature_column_names=["x"], y_pred="pred", y_true="y", metrics=["mae", "rmse"],
                       chunk_size=CHUNK)
    peer.fit(reference)
    model = fit_error_model({"x": reference["x"].to_numpy()}, reference["pred"].to_numpy(), reference["y"].to_numpy())
    result = {}
    for name, (low, high) in SHIFTS.items():
        analysis = frame(rng, CHUNKS * CHUNK, low, high)
        theirs = peer.estimate(analysis).to_df()
        theirs = theirs[theirs[("chunk", "period")] == "analysis"]
        chunks = [analysis.iloc[k * CHUNK:(k + 1) * CHUNK] for k in range(CHUNKS)]
        ours = [model.expected({"x": c["x"].to_numpy()}, c["pred"].to_numpy()) for c in chunks]
        result[name] = {
            "mae": np.array([float(a.mean()) for a, _ in ours]),
            "rmse": np.array([math.sqrt(float(s.mean())) for _, s in ours]),
            "nannyml_mae": theirs[("mae", "value")].to_numpy(), "nannyml_rmse": theirs[("rmse", "value")].to_numpy(),
            "true_mae": np.array([math.sqrt(2 / math.pi) * float(c["x"].mean()) for c in chunks]),
        }
    return model, result


@pytest.mark.parametrize("seed", SEEDS)
def test_dle_equals_nannyml_within_the_error_models_own_uncertainty(seed: int) -> None:
    model, result = compare(seed)
    mae_bound = 3 * model.spread["model_mae"]
    rmse_bound = 3 * model.spread["model_mse"] / (2 * model.reference["rmse"])
    for name, chunk in result.items():
        assert chunk["nannyml_mae"].shape == (CHUNKS,)
        assert np.max(np.abs(chunk["mae"] - chunk["nannyml_mae"])) < mae_bound, (name, mae_bound)
        assert np.max(np.abs(chunk["rmse"] - chunk["nannyml_rmse"])) < rmse_bound, (name, rmse_bound)
    # and neither is trivially close: under the shifts both moved far from the reference, the same way
    for name in ("U(1, 2)", "U(0, 1)"):
        moved = result[name]["mae"] - model.reference["mae"]
        assert np.all(np.abs(moved) > 10 * mae_bound), name
        assert np.all(np.sign(result[name]["nannyml_mae"] - model.reference["mae"]) == np.sign(moved)), name
