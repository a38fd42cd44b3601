"""Baselines: what a model's inputs, outputs and module paths looked like when it was good.

A :class:`Baseline` is a profile, not a copy of the data (docs/architecture.md, decision 4): per
feature the quantile bin edges and counts, category frequencies, vocabulary and a bounded sample; the output
distribution; the module-path frequencies per output; the latency distribution. The SDK
summarises batches over the baseline's bin edges (so the summaries merge into histograms) and
checks calls against its ranges and categories; the analyzer compares windows against it.

Build one from training data, or capture one while a validation set runs through the decorated
model::

    baseline = modelspan.Baseline.from_data(train_df, model="churn", version="3", output="label")
    baseline.save("churn-3.json")

    with modelspan.Baseline.capture(model="churn", version="3") as cap:
        for row in validation_rows:
            predict(row)
    cap.baseline.save("churn-3.json")
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from functools import cached_property, partial
from typing import Any

import numpy as np

from modelspan import _time, semconv
from modelspan.baseline import _data
from modelspan.baseline._feature import SAMPLE_SIZE, Kind, output_kind, profile_fields
from modelspan.profiling import _profile
from modelspan.profiling._calibration import Calibration
from modelspan.profiling._capture import BaselineCapture, Captured
from modelspan.profiling._error_model import ErrorModel, fit_error_model
from modelspan.profiling._multiclass import MulticlassCalibration

__all__ = ["FORMAT_VERSION", "SAMPLE_SIZE", "Baseline", "FeatureProfile", "Kind"]

FORMAT_VERSION = 1


@dataclass
class FeatureProfile:
    """Profile of one feature (or of the output, named ``"_output"``).

    For text features ``edges``/``bin_counts``/``min``/``max``/``mean``/``std`` describe the text
    length and ``vocabulary`` its most frequent tokens; for categorical ones ``vocabulary`` is
    every category seen (at most ``MAX_VOCABULARY``), ``categories`` the top
    ``MAX_BASELINE_CATEGORIES`` with their counts, ``other_count`` the counted remainder and
    ``levels`` how many distinct categories there were. When ``levels`` exceeds the vocabulary (a
    feature with more than ``MAX_VOCABULARY`` levels), a category outside the vocabulary may be one
    of the unlisted tail: it is counted with the remainder, never as unseen.
    """

    name: str
    kind: Kind
    count: int = 0
    null_count: int = 0
    edges: list[float] = field(default_factory=list)
    bin_counts: list[int] = field(default_factory=lambda: [0])
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    std: float | None = None
    categories: list[str] = field(default_factory=list)
    category_counts: list[int] = field(default_factory=list)
    other_count: int = 0
    vocabulary: list[str] = field(default_factory=list)
    sample: list[Any] = field(default_factory=list)
    levels: int = 0

    @cached_property
    def complete_vocabulary(self) -> bool:
        """Whether the vocabulary lists every category the baseline saw (profiles saved before
        ``levels`` existed are complete unless their vocabulary is full)."""
        if self.levels:
            return self.levels <= len(self.vocabulary)
        return len(self.vocabulary) < _profile.MAX_VOCABULARY

    def is_unseen(self, category: str) -> bool:
        """A category the baseline surely never saw (never true beyond an incomplete vocabulary).

        >>> p = FeatureProfile.from_values("plan", ["a", "b"], "categorical")
        >>> p.is_unseen("a"), p.is_unseen("z")
        (False, True)
        """
        known = self.known
        return bool(known) and category not in known and self.complete_vocabulary

    @cached_property
    def known(self) -> frozenset[str]:
        """Every category (or token, for text) the baseline has seen."""
        return frozenset(self.vocabulary) | frozenset(self.categories)

    @cached_property
    def category_index(self) -> dict[str, int]:
        """Category -> its index ``i`` in ``ml.batch.<name>.cat.<i>``."""
        return {category: i for i, category in enumerate(self.categories)}

    @cached_property
    def edges_array(self) -> np.ndarray:
        return np.asarray(self.edges, dtype=np.float64)

    @classmethod
    def from_values(
        cls,
        name: str,
        values: Sequence[Any] | np.ndarray,
        kind: Kind | None = None,
        bins: int = 10,
        sample_size: int = SAMPLE_SIZE,
    ) -> FeatureProfile:
        """Profile one column of values.

        >>> p = FeatureProfile.from_values("age", [20, 30, 40, None])
        >>> p.kind, p.count, p.null_count, p.min, p.max
        ('numeric', 3, 1, 20.0, 40.0)
        """
        return cls(name, **profile_fields(values, kind or _profile.infer_kind(values), bins, sample_size))


@dataclass
class Baseline:
    """A model version's reference profile; see the module docstring."""

    model: str
    version: str
    id: str = ""
    created_at: str = ""
    row_count: int = 0
    features: dict[str, FeatureProfile] = field(default_factory=dict)
    output: FeatureProfile | None = None
    module_paths: dict[str, dict[str, int]] = field(default_factory=dict)
    latency_ms: FeatureProfile | None = None
    calibration: Calibration | None = None
    error_model: ErrorModel | None = None
    multiclass_calibration: MulticlassCalibration | None = None

    def __post_init__(self) -> None:
        if not self.created_at:
            self.created_at = _time.iso(_dt.datetime.now(_dt.timezone.utc))
        if not self.id:
            self.id = self.content_id()

    def content_id(self) -> str:
        """Deterministic id: model, version and a digest of the profile's content."""
        body = self.to_dict()
        body.pop("id")
        body.pop("created_at")
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        return f"{self.model}:{self.version}:{digest[:12]}"

    @classmethod
    def from_data(
        cls,
        data: Any,
        *,
        model: str,
        version: str,
        output: str | None = None,
        outputs: Sequence[Any] | np.ndarray | None = None,
        features: Sequence[str] | None = None,
        categorical: Iterable[str] = (),
        text: Iterable[str] = (),
        bins: int = 10,
        sample_size: int = SAMPLE_SIZE,
        latency_ms: Sequence[float] | None = None,
        prediction: str | Sequence[Any] | np.ndarray | None = None,
        target: str | Sequence[Any] | np.ndarray | None = None,
        scores: str | Sequence[float] | np.ndarray | None = None,
    ) -> Baseline:
        """Profile training data: a DataFrame, a dict of columns, a list of dicts or a 2-D array.

        ``output`` names the column holding the model's output (or the label); ``outputs`` gives
        outputs separately. ``categorical``/``text`` force a column's kind (else inferred).

        ``prediction``, ``target`` and ``scores`` (column names or values, all three or none) give
        a binary classifier's predicted 0/1 labels, true labels and probabilities of class 1 on a
        labelled reference set that is not the training set: the baseline then learns the
        calibration that estimates performance before labels arrive (docs/estimation.md).
        ``prediction`` and ``target`` without ``scores`` give a regressor's predicted and true values:
        the baseline then learns the error model of direct loss estimation (estimated MAE and RMSE).
        For a multiclass classifier ``scores`` is the probability matrix (one column per class, in
        the sorted order of the labels) and the predictions and targets are class labels: the
        baseline then carries a ``multiclass_calibration`` (one class against the rest) instead.

        >>> data = {"age": [20, 30, 40], "plan": ["a", "b", "a"], "label": ["no", "yes", "no"]}
        >>> b = Baseline.from_data(data, model="churn", version="3", output="label")
        >>> sorted(b.features), b.output.categories
        (['age', 'plan'], ['no', 'yes'])
        """
        if bins < 1:
            raise ValueError(f"bins must be >= 1, got {bins}")
        columns, rows = _data.columns(data, features)
        out_values = columns.pop(output) if output is not None and output in columns else outputs
        calibration, learned = _data.labelled(
            columns, out_values if output is not None else None, output, prediction, target, scores)
        if output is not None and outputs is None and out_values is None:
            raise ValueError(f"output column {output!r} is not in the data")
        kinds: dict[str, Kind] = {name: "categorical" for name in categorical}
        kinds.update({name: "text" for name in text})
        profiles = {
            name: FeatureProfile.from_values(name, column, kinds.get(name), bins, sample_size)
            for name, column in columns.items()
        }
        output_profile = None
        if out_values is not None:
            values = _data.as_values(out_values)
            output_profile = FeatureProfile.from_values(
                semconv.OUTPUT_FEATURE, values, output_kind(values), bins, sample_size
            )
        latency = None
        if latency_ms is not None:
            latency = FeatureProfile.from_values("latency_ms", _data.as_values(latency_ms), "numeric", bins)
        error_model = None
        if learned is not None:
            numeric = {name: columns[name] for name, profile in profiles.items() if profile.kind == "numeric"}
            error_model = fit_error_model(numeric, learned[0], learned[1])
        multiclass = calibration if isinstance(calibration, MulticlassCalibration) else None
        return cls(model, version, row_count=rows, features=profiles, output=output_profile,
                   latency_ms=latency, calibration=calibration if isinstance(calibration, Calibration) else None,
                   error_model=error_model, multiclass_calibration=multiclass)

    @classmethod
    def capture(
        cls,
        *,
        model: str,
        version: str | None = None,
        baseline: Baseline | None = None,
        bins: int = 10,
    ) -> BaselineCapture[Baseline]:
        """Record calls of the decorated ``model`` while a validation set runs through it.

        Inside the ``with`` block every monitored call of ``model`` (of ``version`` if given)
        adds its inputs, outputs, latency and module path (counted per output label, ``"*"``
        for numeric outputs) to the capture; on exit ``cap.baseline`` holds the result. Given
        ``baseline=``, the captured module paths and latencies are added to a copy of it.
        """
        build = partial(_from_captured, model=model, version=version, base=baseline, bins=bins)
        return BaselineCapture(model=model, version=version, build=build)

    def with_module_paths(
        self, module_paths: Mapping[str, Mapping[str, int]], latency_ms: FeatureProfile | None
    ) -> Baseline:
        """A copy carrying these module-path frequencies (and latency profile), with a new id."""
        paths = {label: dict(counts) for label, counts in module_paths.items()}
        return replace(self, id="", created_at="", module_paths=paths,
                       latency_ms=latency_ms or self.latency_ms)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; ``Baseline.from_dict(b.to_dict()) == b``."""
        body = asdict(self)
        for key in ("calibration", "error_model", "multiclass_calibration"):
            if body[key] is None:  # absent, so baselines without one keep their ids
                del body[key]
        body["format_version"] = FORMAT_VERSION
        return body

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> Baseline:
        """Inverse of :meth:`to_dict`; unknown keys are ignored (forward compatibility)."""
        names = {f.name for f in fields(cls)}
        values = {key: value for key, value in body.items() if key in names}
        values["features"] = {
            name: _profile_from_dict(item) for name, item in body.get("features", {}).items()
        }
        calibration = body.get("calibration")
        values["calibration"] = Calibration.from_dict(calibration) if calibration else None
        error_model = body.get("error_model")
        values["error_model"] = ErrorModel.from_dict(error_model) if error_model else None
        multiclass = body.get("multiclass_calibration")
        values["multiclass_calibration"] = MulticlassCalibration.from_dict(multiclass) if multiclass else None
        for key in ("output", "latency_ms"):
            values[key] = _profile_from_dict(body[key]) if body.get(key) else None
        values["module_paths"] = {
            str(label): {str(k): int(v) for k, v in counts.items()}
            for label, counts in body.get("module_paths", {}).items()
        }
        return cls(**values)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the baseline as JSON."""
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(self.to_dict(), handle, indent=1, allow_nan=False)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Baseline:
        """Read a baseline written by :meth:`save`."""
        with open(path, encoding="utf-8") as handle:
            return cls.from_dict(json.load(handle))


def _from_captured(
    captured: Captured, *, model: str, version: str | None, base: Baseline | None, bins: int
) -> Baseline:
    """The baseline a capture recorded: ``base`` with the captured module paths and latencies,
    or, without ``base``, profiles of the captured inputs and outputs too."""
    latency = (
        FeatureProfile.from_values("latency_ms", captured.latency_ms, "numeric", bins)
        if captured.latency_ms
        else None
    )
    if base is not None:
        return base.with_module_paths(captured.module_paths, latency)
    baseline = Baseline.from_data(
        captured.columns, model=model, version=version or "*", outputs=captured.outputs, bins=bins
    )
    return baseline.with_module_paths(captured.module_paths, latency)


def _profile_from_dict(body: Mapping[str, Any]) -> FeatureProfile:
    names = {f.name for f in fields(FeatureProfile)}
    return FeatureProfile(**{key: value for key, value in body.items() if key in names})

