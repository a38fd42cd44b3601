"""Direct loss estimation (DLE): a regressor's MAE and RMSE without labels, from the expected errors.

NannyML's method (docs/estimation.md, "Regression"). The baseline's
:class:`~modelspan.profiling._error_model.ErrorModel` gives, per row, the expected absolute error
m = E[|y - ŷ| | x, ŷ] and the expected squared error s = E[(y - ŷ)² | x, ŷ]; over a window of n rows

    estimated MAE = Σm / n,    estimated RMSE = √(Σs / n).

Sums add across calls and windows, so the store answers them whatever the traffic. The sampling
error of a window's MAE is the reference's per-row spread of |y - ŷ| over √n; RMSE's follows from
that of the mean squared error by the delta method (SE(MSE) / (2·RMSE)). The band is the reference
value ± 3 sampling errors; an estimate outside it is flagged (``Estimate.flagged``).

Once labels arrive, realised and estimated MAE of the labelled rows differ, if the error model holds,
by the spread of |y - ŷ| over the window's inputs over √(labelled rows) (that spread follows from the
sums themselves: E|e|² = E e², so Var|e| = Σs/n - (Σm/n)², the law of total variance) and by the
error model's own error, learned from a finite reference (its jackknife standard error, stored in the
baseline). The reference band needs no such term: the reference value is the same model's mean over
the reference (a least-squares fit with an intercept), so its error is common to both.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from modelspan.analyzer.estimation import BAND_WIDTH, Estimate
from modelspan.profiling._error_model import ErrorModel

LOSS_METRICS = ("mae", "rmse")


def estimate_loss(model: ErrorModel, rows: int, abs_error: float, squared_error: float) -> dict[str, Estimate]:
    """Estimated MAE and RMSE of a window from its sums, with sampling errors at its size.

    >>> m = ErrorModel(reference={"mae": 1.0, "rmse": 1.25}, spread={"mae": 0.8, "mse": 2.0})
    >>> e = estimate_loss(m, 400, 440.0, 640.0)
    >>> round(e["mae"].value, 3), round(e["mae"].sampling_error, 3), round(e["rmse"].value, 3)
    (1.1, 0.04, 1.265)
    """
    if rows <= 0:
        nan = float("nan")
        return {name: Estimate(name, nan, nan, model.reference.get(name, nan), 0) for name in LOSS_METRICS}
    root = math.sqrt(rows)
    reference_rmse = model.reference.get("rmse", float("nan"))
    rmse_error = model.spread.get("mse", float("nan")) / root / (2 * reference_rmse) if reference_rmse > 0 \
        else float("nan")
    return {
        "mae": Estimate("mae", abs_error / rows, model.spread.get("mae", float("nan")) / root,
                        model.reference.get("mae", float("nan")), rows),
        "rmse": Estimate("rmse", math.sqrt(max(squared_error, 0.0) / rows), rmse_error, reference_rmse, rows),
    }


def realised_loss(actual: npt.ArrayLike, predicted: npt.ArrayLike) -> dict[str, float]:
    """Realised MAE and RMSE (NaN without rows).

    >>> realised_loss([1.0, 3.0], [2.0, 1.0])
    {'mae': 1.5, 'rmse': 1.5811388300841898}
    """
    error = np.asarray(actual, dtype=np.float64) - np.asarray(predicted, dtype=np.float64)
    if error.size == 0:
        return {"mae": float("nan"), "rmse": float("nan")}
    return {"mae": float(np.mean(np.abs(error))), "rmse": float(math.sqrt(np.mean(error * error)))}


def gap_errors(model: ErrorModel, estimates: dict[str, Estimate], labelled: int) -> dict[str, float]:
    """Standard errors of realised minus estimated MAE and RMSE on ``labelled`` rows of the window.

    Two independent parts. Sampling: for MAE √(estimated MSE - estimated MAE²) / √labelled, the spread
    of |y - ŷ| the error model expects over the window's inputs; for RMSE the reference's spread of the
    squared error, by the delta method. The error model's own: ``model_mae`` (``model_mse`` by the
    delta method), its jackknife standard error on the reference, which does not shrink with the window.

    >>> m = ErrorModel(spread={"mae": 0.6, "mse": 2.0, "model_mae": 0.03, "model_mse": 0.0})
    >>> e = estimate_loss(m, 400, 400.0, 500.0)  # MAE 1.0, MSE 1.25: sampling 0.5 / 20
    >>> round(gap_errors(m, e, 400)["mae"], 4)  # √(0.025² + 0.03²)
    0.0391
    """
    if labelled <= 0:
        return {name: float("nan") for name in LOSS_METRICS}
    mae, rmse = estimates["mae"].value, estimates["rmse"].value
    spread = math.sqrt(max(rmse * rmse - mae * mae, 0.0))
    model_mae, model_mse = model.spread.get("model_mae", 0.0), model.spread.get("model_mse", 0.0)
    mse_error = math.hypot(model.spread.get("mse", float("nan")) / math.sqrt(labelled), model_mse)
    return {"mae": math.hypot(spread / math.sqrt(labelled), model_mae),
            "rmse": mse_error / (2 * rmse) if rmse > 0 else float("nan")}


def loss_gap(estimated: float, realised: float, standard_error: float) -> bool:
    """Realised and estimated loss more than ``BAND_WIDTH`` standard errors apart."""
    if any(math.isnan(v) for v in (estimated, realised, standard_error)):
        return False
    return abs(realised - estimated) > BAND_WIDTH * standard_error
