"""``modelspan experiment``: real monitored calls into a real SQLite store, analysed by unit, gated by exit code."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

import modelspan
from modelspan import findings as F
from modelspan import semconv
from modelspan.cli import main
from modelspan.exporters.sqlite import SQLiteSpanExporter
from modelspan.instrumentation import _config

ARMS = ["champion", "challenger"]


@pytest.fixture
def store_path(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "store.db"
    provider = TracerProvider()
    modelspan.configure(tracer_provider=provider, exporter=SQLiteSpanExporter(path))
    try:
        yield path
    finally:
        modelspan.shutdown()
        provider.shutdown()
        _config.STATE.enabled = True


def _create(path: Path, *extra: str) -> None:
    assert main(["experiment", "create", "ranker-v2", "--arm", "champion=0.5", "--arm", "challenger=0.5",
                 "--control", "champion", "--store", str(path), *extra]) == 0


def _models(error_rates: dict[str, float], seed: int = 0) -> dict[str, Callable[[dict[str, float]], str]]:
    rng = random.Random(seed)

    def make(version: str, rate: float) -> Callable[[dict[str, float]], str]:
        @modelspan.monitor(model="ranker", version=version)
        def predict(row: dict[str, float]) -> str:
            if rng.random() < rate:
                raise RuntimeError("model failed")
            return "high" if row["x"] > 0.5 else "low"

        return predict

    return {"champion": make("1", error_rates["champion"]), "challenger": make("2", error_rates["challenger"])}


def _serve(models: dict[str, Callable[[dict[str, float]], str]], units: int, weights: list[float],
           calls_per_unit: int = 2) -> list[tuple[str, Any]]:
    labelled = []
    for i in range(units):
        with modelspan.assign("ranker-v2", f"user-{i}", ARMS, weights) as assignment:
            for j in range(calls_per_unit):
                x = ((i * 7 + j * 3) % 100) / 100
                try:
                    models[assignment.arm]({"x": x})
                except RuntimeError:
                    continue
                prediction = modelspan.last_prediction()
                assert prediction is not None
                truth = (x > 0.5) != ((i * 13 + j) % 10 == 0)  # one label in ten disagrees with both versions
                labelled.append((prediction.id, "high" if truth else "low"))
    modelspan.force_flush()
    return labelled


def _show(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()  # what came before (the create line)
    code = main(["experiment", "show", "ranker-v2", "--store", str(path), "--format", "json", *extra])
    return code, json.loads(capsys.readouterr().out)


def test_a_worse_challenger_is_rejected_by_the_gate(store_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _create(store_path)
    labels = _serve(_models({"champion": 0.05, "challenger": 0.30}), units=500, weights=[0.5, 0.5])
    modelspan.record_outcomes(labels, store=str(store_path))
    code, report = _show(store_path, capsys)
    assert code == 3 and report["exit_code"] == 3 and report["verdicts"] == {"challenger": "lose"}
    arms = {a["arm"]: a for a in report["arms"]}
    assert arms["champion"]["units"] + arms["challenger"]["units"] == 500  # units, not requests
    assert arms["champion"]["calls"] + arms["challenger"]["calls"] == 1000
    assert arms["challenger"]["versions"] == ["ranker:2"] and 0.85 < arms["champion"]["accuracy"] < 0.95
    effects = {e["metric"]: e for e in report["effects"]}
    error = effects["error_rate"]
    assert error["direction"] == "worse" and error["lower"] > 0.1  # 25 points worse, interval well above 0
    assert effects["accuracy"]["direction"] == "none"  # both equally right when they answer
    assert not report["srm"]["mismatch"] and report["shadow"] is None
    # Findings were written: the SRM check, one per effect, one verdict per arm.
    from modelspan.store.sqlite import SQLiteStore

    with SQLiteStore(store_path) as store:
        written = store.read_findings(types=[F.TYPE_EXPERIMENT])
    verdicts = [d for d in written if F.EXPERIMENT_VERDICT in d]
    assert [(d[F.EXPERIMENT_ARM], d[F.EXPERIMENT_VERDICT], d[F.FLAGGED]) for d in verdicts] == [
        ("challenger", "lose", True)]
    assert report["written"] == len(written) == 1 + len(report["effects"]) + 1


def test_a_skewed_split_raises_srm_and_withholds_effects(store_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    _create(store_path)
    _serve(_models({"champion": 0.05, "challenger": 0.30}), units=1200, weights=[0.6, 0.4], calls_per_unit=1)
    code, report = _show(store_path, capsys, "--no-write")
    assert code == 4 and report["status"] == "srm" and report["effects"] == []
    assert report["srm"]["mismatch"] and report["verdicts"] == {"challenger": "srm"}


def test_too_little_traffic_means_keep_waiting(store_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _create(store_path)
    _serve(_models({"champion": 0.0, "challenger": 0.0}), units=40, weights=[0.5, 0.5])
    code, report = _show(store_path, capsys, "--no-write")
    assert code == 1 and report["status"] == "not_enough_data"
    assert main(["experiment", "show", "ranker-v2", "--store", str(store_path), "--no-write"]) == 1
    assert "not_enough_data" in capsys.readouterr().out


def test_shadow_calls_make_churn_and_stay_out_of_production(store_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    _create(store_path)

    @modelspan.monitor(model="ranker", version="2")
    def challenger(row: dict[str, float]) -> str:
        return "high" if row["x"] > 0.7 else "low"

    @modelspan.shadow(challenger, experiment="ranker-v2")
    @modelspan.monitor(model="ranker", version="1")
    def champion(row: dict[str, float]) -> str:
        return "high" if row["x"] > 0.5 else "low"

    labels = []
    for i in range(200):
        x = i / 200
        champion({"x": x})
        labels.append((modelspan.last_prediction().id, "high" if x > 0.6 else "low"))  # type: ignore[union-attr]
    assert champion.shadow.flush(30)  # type: ignore[attr-defined]
    modelspan.force_flush()
    modelspan.record_outcomes(labels, store=str(store_path))
    code, report = _show(store_path, capsys, "--no-write")
    shadow = report["shadow"]
    assert shadow["calls"] == 200 and shadow["compared"] == 200
    assert shadow["churn"] == pytest.approx(40 / 200)  # x in (0.5, 0.7]
    # Labels say the truth is x > 0.6: the champion alone is right on (0.5, 0.6], the challenger on (0.6, 0.7].
    assert shadow["mcnemar"]["champion_only_right"] == 20 and shadow["mcnemar"]["challenger_only_right"] == 20
    assert shadow["mcnemar"]["statistic"] == pytest.approx(1 / 40) and shadow["mcnemar"]["p_value"] > 0.8
    assert all(a["calls"] == 0 for a in report["arms"]) and code == 1  # shadows serve no arm
    from modelspan.store._es_queries import Window
    from modelspan.store.sqlite import SQLiteStore

    with SQLiteStore(store_path) as store:
        window = Window.parse(report["window"]["start"], report["window"]["end"])
        assert store.models(window) == [("ranker", "1", 200)]  # production counts no shadow call
        kinds = {row[0] for row in store.connection.execute("SELECT ml_kind FROM spans")}
    assert semconv.SPAN_KIND_SHADOW in kinds


def test_errors_are_exit_code_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(tmp_path / "empty.db")
    assert main(["experiment", "show", "nope", "--store", path]) == 2
    assert "create it first" in capsys.readouterr().err
    assert main(["experiment", "create", "x", "--arm", "a=1", "--arm", "b", "--control", "a", "--store", path]) == 2
    assert main(["experiment", "create", "x", "--arm", "a=1", "--arm", "b=1", "--control", "z", "--store", path]) == 2
    assert main(["experiment", "create", "x", "--arm", "a=1", "--arm", "b=1", "--control", "a", "--store", path]) == 0
    # Parameters are fixed at creation: the same again is fine, different is refused.
    assert main(["experiment", "create", "x", "--arm", "a=1", "--arm", "b=1", "--control", "a", "--store", path]) == 0
    assert main(["experiment", "create", "x", "--arm", "a=2", "--arm", "b=1", "--control", "a", "--store", path]) == 2
    assert "fixed at creation" in capsys.readouterr().err
