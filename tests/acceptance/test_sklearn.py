"""Acceptance on scikit-learn's bundled data sets (issue 12, "Must show"), as a new user would run it.

Real scikit-learn Pipelines served through decorated methods with sub-modules (``@modelspan.module``),
real spans (TracerProvider + in-memory exporter, turned into the Collector's documents), a real
SQLite store, late labels through ``record_outcomes`` and the real analyzer. Checked:

- classifiers with string classes (breast cancer, ``predict_proba`` on single rows) and integer
  classes (wine: ``predict`` on DataFrame batches; digits: numpy batches), a regressor (diabetes,
  single rows and DataFrame batches): accuracy, F1, ROC-AUC and MAE from the analyzer equal
  scikit-learn's on the same rows;
- clean windows (held-out rows of the same data) flag no drift;
- a planted unit change, stuck sensor and missing values are each found with the right feature.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import modelspan
from modelspan import findings
from modelspan.analyzer import analyze
from modelspan.exporters._document import span_to_document
from modelspan.instrumentation import _config
from modelspan.store import Window
from modelspan.store.sqlite import SQLiteStore

pd = pytest.importorskip("pandas")
datasets = pytest.importorskip("sklearn.datasets")
metrics = pytest.importorskip("sklearn.metrics")
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.linear_model import LogisticRegression, Ridge  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

WINDOW = Window.parse("2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z")
LABELS_AT = "2026-11-24T09:00:00Z"  # two days later: late labels
MODEL_TYPES = {findings.TYPE_DRIFT, findings.TYPE_PREDICTION_DRIFT, findings.TYPE_DATA_QUALITY}


class Served:
    """A fitted Pipeline behind decorated methods, each step a sub-module span."""

    def __init__(self, pipeline: Pipeline, columns: list[str]) -> None:
        self.pipeline, self.columns = pipeline, columns
        self.classes_ = getattr(pipeline, "classes_", None)

    def frame(self, value: Any) -> Any:
        if isinstance(value, dict):
            return pd.DataFrame([value], columns=self.columns)
        return value if isinstance(value, pd.DataFrame) else pd.DataFrame(value, columns=self.columns)

    @modelspan.module("preprocess")
    def transform(self, value: Any) -> Any:
        return self.pipeline[:-1].transform(self.frame(value))

    @modelspan.module("estimator")
    def estimator(self) -> Any:
        return self.pipeline[-1]


class Classifier(Served):
    @modelspan.monitor(model="breast_cancer", version="1")
    def predict_proba(self, row: Any) -> Any:
        return self.estimator().predict_proba(self.transform(row))  # columns named by self.classes_


class Multiclass(Served):
    @modelspan.monitor(model="wine", version="1")
    def predict(self, batch: Any) -> Any:
        return self.estimator().predict(self.transform(batch))  # integer classes, one per row


class Digits(Served):
    @modelspan.monitor(model="digits", version="1")
    def predict(self, batch: Any) -> Any:
        return self.estimator().predict(self.transform(batch))


class Regressor(Served):
    @modelspan.monitor(model="diabetes", version="1")
    def predict(self, value: Any) -> Any:
        return self.estimator().predict(self.transform(value))  # a 1-element array for one row


@dataclass
class Run:
    """What one analysed window gave."""

    found: list[dict[str, Any]]
    joined: list[Any]
    store_path: Path

    def flagged(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.found if f[findings.FLAGGED] and f[findings.TYPE] == kind]

    def metric(self, name: str) -> float:
        values = [f[findings.METRIC_VALUE] for f in self.found if f[findings.TYPE] == findings.TYPE_QUALITY
                  and f[findings.METRIC_NAME] == name and findings.TEST_NAME not in f]
        assert len(values) == 1, (name, values)
        return float(values[0])


@contextmanager
def _store_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        yield Path(directory)


def _serve(baseline: modelspan.Baseline, calls: Callable[[], list[tuple[list[str], list[Any]]]],
           directory: Path, model: str) -> Run:
    """Run ``calls`` (returning (prediction ids, actuals) per call) in WINDOW; labels arrive later."""
    provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=4096))
    exporter = InMemorySpanExporter()
    modelspan.configure(tracer_provider=provider, exporter=exporter, baselines=[baseline])
    try:
        outcomes = calls()
        modelspan.force_flush()
        spans = list(exporter.get_finished_spans())
    finally:
        modelspan.shutdown()
        provider.shutdown()
        _config.STATE.baselines.clear()
    first = min(span.start_time or 0 for span in spans)
    shift = int(WINDOW.start.timestamp()) * 10**9 + 60 * 10**9 - first  # into the window, keeping gaps
    documents = []
    for span in spans:
        document = span_to_document(span)
        moment = (span.start_time or 0) + shift
        document["@timestamp"] = f"{moment // 10**6}.{moment % 10**6}"
        documents.append(document)
    path = directory / f"{model}.db"
    with SQLiteStore(path, interval_seconds=600) as store:
        store.save_baseline(baseline)
        store.load_documents(documents)
        pairs = [(pid, actual, LABELS_AT) for ids, actuals in outcomes for pid, actual in zip(ids, actuals,
                                                                                            strict=True)]
        assert modelspan.record_outcomes(pairs, store=store) == len(pairs)
        found = analyze(store, WINDOW, write=False).findings
        joined = store.labelled_predictions(WINDOW, model, "1")
    return Run(found, joined, path)


def _ids() -> list[str]:
    prediction = modelspan.last_prediction()
    assert prediction is not None and prediction.sampled
    return prediction.ids


def _no_drift(run: Run) -> None:
    """A clean window: no drift, no prediction drift, no data-quality finding but out-of-range ones.

    Out-of-range is excused only because that check is being calibrated elsewhere (issue 12 item 4:
    expected rate from the baseline's own extremes, FDR across features); once it is, drop the
    excuse and assert that no data-quality finding at all is flagged."""
    assert not run.flagged(findings.TYPE_DRIFT), [f[findings.SUMMARY] for f in run.flagged(findings.TYPE_DRIFT)]
    assert not run.flagged(findings.TYPE_PREDICTION_DRIFT)
    judged = [f for f in run.found if f[findings.TYPE] == findings.TYPE_DRIFT]
    assert judged, "no drift finding at all: the window was not judged"
    quality = run.flagged(findings.TYPE_DATA_QUALITY)
    assert all(f[findings.METRIC_NAME] == "out_of_range_rate" for f in quality), [f[findings.SUMMARY] for f in quality]


# --- Breast cancer: string classes, predict_proba on single rows ------------------------------------

def test_breast_cancer_single_rows_string_classes() -> None:
    data = datasets.load_breast_cancer(as_frame=True)
    x, names = data.data, data.target_names  # feature names hold spaces: "mean radius"
    y = names[data.target.to_numpy()]  # string classes: "malignant" / "benign"
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.5, random_state=0, stratify=y)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x_train, y_train)
    model = Classifier(pipeline, list(x.columns))
    baseline = modelspan.Baseline.from_data(x_train, model="breast_cancer", version="1",
                                            outputs=pipeline.predict(x_train))
    labelled = x_test.index[::2]  # ground truth arrives for half the predictions

    def calls() -> list[tuple[list[str], list[Any]]]:
        out = []
        for index, row in x_test.iterrows():
            model.predict_proba(row.to_dict())
            if index in labelled:
                out.append((_ids(), [y_test[x_test.index.get_loc(index)]]))
        return out

    with _store_dir() as directory:
        run = _serve(baseline, calls, directory, "breast_cancer")
    rows = x_test.loc[labelled]
    truth = y_test[[x_test.index.get_loc(i) for i in labelled]]
    predicted = pipeline.predict(rows)
    positive = "malignant"  # the analyzer's rule for two labels without a "1"/"true": the last in order
    proba = pipeline.predict_proba(rows)[:, list(pipeline.classes_).index(positive)]
    assert len(run.joined) == len(labelled)
    assert run.metric("accuracy") == pytest.approx(metrics.accuracy_score(truth, predicted), abs=1e-15)
    assert run.metric("f1") == pytest.approx(metrics.f1_score(truth, predicted, pos_label=positive), abs=1e-15)
    assert run.metric("roc_auc") == pytest.approx(metrics.roc_auc_score(truth == positive, proba), abs=1e-12)
    _no_drift(run)


class Labeller(Served):
    @modelspan.monitor(model="breast_cancer", version="1")
    def predict(self, value: Any) -> Any:
        return self.estimator().predict(self.transform(value))  # np.array([1]) or an object array


@pytest.mark.parametrize("string_classes", [False, True])
def test_breast_cancer_predict_on_rows_and_frames(string_classes: bool) -> None:
    """``predict``: integer classes give ``np.array([1])`` for one row, string classes an object array
    for a batch; labels recorded as numpy integers or strings join them all the same."""
    data = datasets.load_breast_cancer(as_frame=True)
    x, y = data.data, data.target.to_numpy()
    if string_classes:
        y = data.target_names[y].astype(object)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.5, random_state=4, stratify=y)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x_train, y_train)
    model = Labeller(pipeline, list(x.columns))
    baseline = modelspan.Baseline.from_data(x_train, model="breast_cancer", version="1",
                                            outputs=pipeline.predict(x_train))

    def calls() -> list[tuple[list[str], list[Any]]]:
        out = []
        for start in range(0, 100):
            model.predict(x_test.iloc[start].to_dict())
            out.append((_ids(), [y_test[start]]))
        for start in range(100, len(x_test), 25):
            model.predict(x_test.iloc[start:start + 25])
            out.append((_ids(), list(y_test[start:start + 25])))
        return out

    with _store_dir() as directory:
        run = _serve(baseline, calls, directory, "breast_cancer")
    predicted = pipeline.predict(x_test)
    positive = "malignant" if string_classes else 1
    assert len(run.joined) == len(x_test)
    assert run.metric("accuracy") == pytest.approx(metrics.accuracy_score(y_test, predicted), abs=1e-15)
    assert run.metric("f1") == pytest.approx(metrics.f1_score(y_test, predicted, pos_label=positive), abs=1e-15)
    _no_drift(run)


# --- Wine: integer classes, DataFrame batches; digits: numpy batches -------------------------------

def _batches_run(loader: Callable[..., Any], served: type[Served], model: str, batch: int,
                 as_numpy: bool) -> tuple[Run, Any, Any]:
    data = loader(as_frame=True)
    x, y = data.data, data.target.to_numpy()
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.5, random_state=1, stratify=y)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(x_train, y_train)
    instance = served(pipeline, list(x.columns))
    baseline = modelspan.Baseline.from_data(x_train, model=model, version="1", outputs=pipeline.predict(x_train))
    labelled_truth, labelled_rows = [], []

    def calls() -> list[tuple[list[str], list[Any]]]:
        out = []
        for start in range(0, len(x_test), batch):
            part = x_test.iloc[start:start + batch]
            instance.predict(part.to_numpy() if as_numpy else part)  # type: ignore[attr-defined]
            ids, truth = _ids(), y_test[start:start + batch]
            keep = slice(0, None, 2)  # every other row gets its label, as numpy integers
            out.append((ids[keep], list(truth[keep])))
            labelled_truth.extend(truth[keep])
            labelled_rows.append(part.iloc[keep])
        return out

    with _store_dir() as directory:
        run = _serve(baseline, calls, directory, model)
    rows = pd.concat(labelled_rows)
    return run, np.asarray(labelled_truth), pipeline.predict(rows)


@pytest.mark.parametrize(("loader", "served", "model", "batch", "as_numpy"), [
    (datasets.load_wine, Multiclass, "wine", 16, False),
    (datasets.load_digits, Digits, "digits", 64, True),
])
def test_integer_classes_in_batches(loader: Any, served: type[Served], model: str, batch: int,
                                    as_numpy: bool) -> None:
    run, truth, predicted = _batches_run(loader, served, model, batch, as_numpy)
    assert len(run.joined) == truth.size
    assert run.metric("accuracy") == pytest.approx(metrics.accuracy_score(truth, predicted), abs=1e-15)
    assert run.metric("f1") == pytest.approx(metrics.f1_score(truth, predicted, average="macro", zero_division=0),
                                             abs=1e-12)
    _no_drift(run)


# --- Diabetes: a regressor, single rows and DataFrame batches; planted problems --------------------

@dataclass
class Planted:
    unit_change: str | None = None  # x 1.8 + 32, a Celsius/Fahrenheit-like change of units
    stuck: str | None = None  # the sensor repeats one value
    missing: str | None = None  # 30% NaN


def _diabetes_run(plan: Planted) -> tuple[Run, Any, Any]:
    data = datasets.load_diabetes(as_frame=True)
    x, y = data.data, data.target.to_numpy()
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.5, random_state=2)
    steps = [("impute", SimpleImputer()), ("scale", StandardScaler()), ("ridge", Ridge(alpha=0.1))]
    pipeline = Pipeline(steps).fit(x_train, y_train)
    model = Regressor(pipeline, list(x.columns))
    baseline = modelspan.Baseline.from_data(x_train, model="diabetes", version="1",
                                            outputs=pipeline.predict(x_train))
    served = x_test.copy()
    rng = np.random.default_rng(3)
    if plan.unit_change:
        served[plan.unit_change] = served[plan.unit_change] * 1.8 + 32
    if plan.stuck:
        served[plan.stuck] = served[plan.stuck].iloc[0]
    if plan.missing:
        served.loc[rng.random(len(served)) < 0.3, plan.missing] = np.nan

    def calls() -> list[tuple[list[str], list[Any]]]:
        out = []
        for start in range(0, 60):  # single rows (dicts), then DataFrame batches of 20
            model.predict(served.iloc[start].to_dict())
            out.append((_ids(), [float(y_test[start])]))
        for start in range(60, len(served), 20):
            model.predict(served.iloc[start:start + 20])
            out.append((_ids(), [float(v) for v in y_test[start:start + 20]]))
        return out

    with _store_dir() as directory:
        run = _serve(baseline, calls, directory, "diabetes")
    return run, y_test, pipeline.predict(served)


def test_diabetes_regression_mae_and_a_clean_window() -> None:
    run, truth, predicted = _diabetes_run(Planted())
    assert len(run.joined) == truth.size
    assert run.metric("mae") == pytest.approx(metrics.mean_absolute_error(truth, predicted), rel=1e-12)
    _no_drift(run)


@pytest.mark.parametrize(("plan", "feature"), [
    (Planted(unit_change="bmi"), "bmi"),
    (Planted(stuck="bp"), "bp"),
])
def test_a_planted_change_is_found_with_its_feature(plan: Planted, feature: str) -> None:
    run, _, _ = _diabetes_run(plan)
    drifted = {f[findings.FEATURE_NAME] for f in run.flagged(findings.TYPE_DRIFT)}
    assert drifted == {feature}, [f[findings.SUMMARY] for f in run.flagged(findings.TYPE_DRIFT)]


def test_planted_missing_values_are_found_with_their_feature() -> None:
    run, _, _ = _diabetes_run(Planted(missing="s5"))
    quality = {(f[findings.FEATURE_NAME], f[findings.METRIC_NAME]) for f in run.flagged(findings.TYPE_DATA_QUALITY)}
    assert ("s5", "nan_rate") in quality
    assert not {name for name, metric in quality if metric != "out_of_range_rate"} - {"s5"}
    assert not run.flagged(findings.TYPE_DRIFT)  # the values that did arrive are as before
