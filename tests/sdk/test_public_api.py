"""The public API of ``modelspan`` changes only on purpose: names and signatures are pinned."""

from __future__ import annotations

import inspect

import modelspan

EXPECTED = {
    "Assignment": "(experiment: 'str', arm: 'str', bucket: 'float', unit: 'str') -> None",
    "assign": "(experiment: 'str', unit: 'Any', arms: 'Sequence[str]', weights: 'Sequence[float] | None' = None, *, "
    "seed: 'str | None' = None) -> 'Assignment'",
    "shadow": "(challenger: 'Callable[..., Any]', sample: 'float' = 1.0, *, experiment: 'str | None' = None, "
    "arm: 'str' = 'challenger', compare: 'Compare | None' = None, queue_size: 'int' = 1000) -> 'Callable[[F], F]'",
    "Baseline": "(model: 'str', version: 'str', id: 'str' = '', created_at: 'str' = '', row_count: 'int' = 0, "
    "features: 'dict[str, FeatureProfile]' = <factory>, output: 'FeatureProfile | None' = None, "
    "module_paths: 'dict[str, dict[str, int]]' = <factory>, latency_ms: 'FeatureProfile | None' = None, "
    "calibration: 'Calibration | None' = None, error_model: 'ErrorModel | None' = None, "
    "multiclass_calibration: 'MulticlassCalibration | None' = None) -> None",
    "FeatureProfile": "(name: 'str', kind: 'Kind', count: 'int' = 0, null_count: 'int' = 0, "
    "edges: 'list[float]' = <factory>, bin_counts: 'list[int]' = <factory>, min: 'float | None' = None, "
    "max: 'float | None' = None, mean: 'float | None' = None, std: 'float | None' = None, "
    "categories: 'list[str]' = <factory>, category_counts: 'list[int]' = <factory>, other_count: 'int' = 0, "
    "vocabulary: 'list[str]' = <factory>, sample: 'list[Any]' = <factory>, levels: 'int' = 0) -> None",
    "Prediction": "(id: ForwardRef('str'), model: ForwardRef('str'), version: ForwardRef('str'), "
    "batch_size: ForwardRef('int') = 1, batch: ForwardRef('bool') = False, sampled: ForwardRef('bool') = True)",
    "configure": "(*, service_name: 'str | None' = None, environment: 'str | None' = None, exporter: 'object' = None, "
    "tracer_provider: 'Any' = None, enabled: 'bool | None' = None, sample_rate: 'float | None' = None, "
    "capture_inputs: 'bool | None' = None, redact: 'Mapping[str, str] | None' = None, "
    "baselines: 'Iterable[Baseline | str | os.PathLike[str]] | None' = None, store: 'str | None' = None, "
    "hash_key: 'str | bytes | None' = None, allow_unkeyed_hash: 'bool | None' = None, "
    "exception_messages: 'bool | None' = None) -> 'None'",
    "current_prediction": "() -> 'Prediction | None'",
    "force_flush": "(timeout_millis: 'int' = 30000) -> 'bool'",
    "last_prediction": "() -> 'Prediction | None'",
    "module": "(name: 'str') -> 'None'",
    "monitor": "(*, model: 'str', version: 'str' = 'unversioned', task: 'str | None' = None, "
    "classes: 'Sequence[str] | None' = None, features: 'Sequence[str] | None' = None, "
    "baseline: 'Baseline | str | None' = None, input: 'str | int | None' = None, "
    "sample_rate: 'float | None' = None) -> 'Callable[[F], F]'",
    "monitoring_errors": "() -> 'int'",
    "stats": "() -> 'dict[str, int]'",
    "record_outcome": "(prediction_id: 'str', actual: 'Any', *, timestamp: 'Any' = None, store: 'Any' = None) -> 'Any'",
    "record_outcomes": "(pairs: 'Any', store: 'Any' = None) -> 'Any'",
    "shutdown": "() -> 'None'",
}


def test_exported_names_are_pinned() -> None:
    assert sorted(modelspan.__all__) == sorted([*EXPECTED, "__version__"])
    for name in modelspan.__all__:
        assert hasattr(modelspan, name), name


def test_signatures_are_pinned() -> None:
    for name, signature in EXPECTED.items():
        assert str(inspect.signature(getattr(modelspan, name))) == signature, name


def test_baseline_methods_are_pinned() -> None:
    methods = {"from_data", "capture", "to_dict", "from_dict", "save", "load", "content_id", "with_module_paths"}
    public = {n for n, _ in inspect.getmembers(modelspan.Baseline) if not n.startswith("_")}
    assert methods <= public
    assert "data" in inspect.signature(modelspan.Baseline.from_data).parameters


def test_public_functions_have_docstrings() -> None:
    for name in EXPECTED:
        assert (getattr(modelspan, name).__doc__ or "").strip(), name


STORE_NAMES = ["ClassScoreSums", "Column", "ColumnStats", "Interval", "LabelledPrediction", "LossSums", "ModelStats",
               "Operations", "PathStats", "Question", "ScoreSums", "Store", "StoreError", "Window", "open_store"]
STORE_OPERATIONS = {
    "models": "(self, window: 'Window') -> 'list[tuple[str, str, int]]'",
    "question": "(self, model: 'str', version: 'str', window: 'Window', baseline: 'Baseline | None' = None) "
    "-> 'Question'",
    "model_stats": "(self, questions: 'Sequence[Question]') -> 'list[ModelStats]'",
    "labelled_predictions": "(self, window: 'Window', model: 'str', version: 'str') -> 'list[LabelledPrediction]'",
    "score_sums": "(self, window: 'Window', model: 'str', version: 'str', edges: 'Sequence[float]', "
    "calibration: 'str | None' = None) -> 'ScoreSums'",
    "loss_sums": "(self, window: 'Window', model: 'str', version: 'str') -> 'LossSums'",
    "class_score_sums": "(self, window: 'Window', model: 'str', version: 'str', "
    "edges: 'Sequence[Sequence[float]]', calibration: 'str | None' = None) -> 'ClassScoreSums'",
    "traces": "(self) -> 'TraceQueries'",
    "refresh": "(self) -> 'None'",
    "write_findings": "(self, documents: 'Iterable[dict[str, Any]]') -> 'int'",
    "delete_findings": "(self, window: 'Window', types: 'Sequence[str]', model: 'str | None' = None) -> 'int'",
    "read_findings": "(self, window: 'Window | None' = None, types: 'Sequence[str] | None' = None, "
    "model: 'str | None' = None) -> 'list[dict[str, Any]]'",
    "record_outcomes": "(self, rows: 'Iterable[Sequence[Any]]') -> 'int'",
    "save_baseline": "(self, baseline: 'Baseline') -> 'None'",
    "load_baseline": "(self, model: 'str', version: 'str') -> 'Baseline | None'",
    "get_checkpoint": "(self, name: 'str') -> 'str | None'",
    "set_checkpoint": "(self, name: 'str', value: 'str') -> 'None'",
    "close": "(self) -> 'None'",
}


def test_the_store_face_is_pinned() -> None:
    import modelspan.store
    from modelspan.store import Store, Window, open_store

    assert sorted(modelspan.store.__all__) == sorted(STORE_NAMES)
    assert str(inspect.signature(open_store)) == ("(target: 'str | os.PathLike[str] | None' = None, *, "
                                                  "read_only: 'bool' = False, create: 'bool' = True) -> 'Store'")
    for name, signature in STORE_OPERATIONS.items():
        assert str(inspect.signature(getattr(Store, name))) == signature, name
    assert Window.parse("2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z").iso() == (
        "2026-11-22T10:00:00.000Z", "2026-11-22T11:00:00.000Z")


def test_both_backends_implement_the_store_face() -> None:
    from modelspan.store import Store
    from modelspan.store.elasticsearch import ElasticsearchStore
    from modelspan.store.sqlite import SQLiteStore

    for backend in (SQLiteStore, ElasticsearchStore):
        for name in STORE_OPERATIONS:
            implemented = inspect.signature(getattr(backend, name))
            pinned = inspect.signature(getattr(Store, name))
            assert list(implemented.parameters) == list(pinned.parameters), (backend.__name__, name)
