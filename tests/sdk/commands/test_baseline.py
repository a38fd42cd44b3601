"""``modelspan baseline`` on CSV and Parquet files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from modelspan import cli
from modelspan.baseline import Baseline
from modelspan.commands import baseline as command


def _frame(rows: int = 200) -> dict[str, list[object]]:
    rng = np.random.default_rng(4)
    return {
        "age": rng.integers(18, 90, rows).tolist(),
        "plan": rng.choice(["free", "pro", "team"], rows).tolist(),
        "label": rng.choice(["churn", "stay"], rows).tolist(),
    }


def test_csv_to_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pd = pytest.importorskip("pandas")
    data = tmp_path / "train.csv"
    pd.DataFrame(_frame()).to_csv(data, index=False)
    out = tmp_path / "b.json"
    code = cli.main(["baseline", str(data), "--model", "churn", "--version", "3", "--output", "label",
                     "--out", str(out)])
    assert code == 0 and "200 rows" in capsys.readouterr().out
    baseline = Baseline.load(out)
    assert (baseline.model, baseline.version, baseline.row_count) == ("churn", "3", 200)
    assert set(baseline.features) == {"age", "plan"}
    assert baseline.output is not None and set(baseline.output.categories) == {"churn", "stay"}


def test_parquet_same_profile_as_csv(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame(_frame())
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_parquet(tmp_path / "t.parquet")
    for name in ("t.csv", "t.parquet"):
        assert cli.main(["baseline", str(tmp_path / name), "--model", "m", "--version", "1",
                         "--out", str(tmp_path / f"{name}.json")]) == 0
    csv_body = json.loads((tmp_path / "t.csv.json").read_text())
    parquet_body = json.loads((tmp_path / "t.parquet.json").read_text())
    assert csv_body["features"] == parquet_body["features"]


def test_csv_without_pandas_reader(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("x,city\n1.5,rome\n,oslo\n3,rome\n")
    columns = command._read_csv(path)
    assert columns == {"x": [1.5, None, 3.0], "city": ["rome", "oslo", "rome"]}


def test_bad_input_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.csv"
    assert cli.main(["baseline", str(missing), "--model", "m", "--version", "1"]) == 2
    (tmp_path / "d.json").write_text("{}")
    assert cli.main(["baseline", str(tmp_path / "d.json"), "--model", "m", "--version", "1"]) == 2
    assert "expected a .csv or .parquet" in capsys.readouterr().err


def test_runs_as_a_command(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("x,y\n1,a\n2,b\n3,a\n")
    done = subprocess.run([sys.executable, "-m", "modelspan", "baseline", str(path), "--model", "m",
                           "--version", "2"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert Baseline.load(tmp_path / "m-2.json").features["x"].max == 3.0


def test_prediction_and_label_columns_are_separate_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 12, item 9: the model's predictions profile the output; the ground truth is no feature."""
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(_frame()).assign(predicted=lambda f: np.where(f["age"] > 50, "churn", "stay"))
    data = tmp_path / "train.csv"
    frame.to_csv(data, index=False)
    out = tmp_path / "b.json"
    assert cli.main(["baseline", str(data), "--model", "churn", "--version", "3", "--prediction", "predicted",
                     "--label", "label", "--out", str(out)]) == 0
    baseline = Baseline.load(out)
    assert set(baseline.features) == {"age", "plan"}
    predicted = frame["predicted"].value_counts()
    assert baseline.output is not None
    assert dict(zip(baseline.output.categories, baseline.output.category_counts, strict=True)) == predicted.to_dict()
    for bad in (["--label", "nope"], ["--prediction", "label", "--label", "label"],
                ["--output", "predicted", "--prediction", "label"]):
        assert cli.main(["baseline", str(data), "--model", "m", "--version", "1", *bad,
                         "--out", str(tmp_path / "x.json")]) == 2
    assert "is not in the data" in capsys.readouterr().err
    assert cli.main(["baseline", str(data), "--model", "m", "--version", "1", "--output", "predicted",
                     "--out", str(tmp_path / "old.json")]) == 0
    assert "--output is read as --prediction" in capsys.readouterr().err


def test_error_model_from_prediction_and_label_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--error-model`` learns DLE's error model from ``--prediction`` and ``--label`` (neither is a feature), the
    same as ``Baseline.from_data``; without both columns it is a clear error."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 2, 2_000)
    frame = pd.DataFrame({"x": x, "predicted": 2 * x, "y": 2 * x + x * rng.normal(size=x.size)})
    data, out = tmp_path / "reference.csv", tmp_path / "reg.json"
    frame.to_csv(data, index=False)
    args = ["baseline", str(data), "--model", "reg", "--version", "1", "--prediction", "predicted"]
    assert cli.main([*args, "--error-model"]) == 2
    assert "--label" in capsys.readouterr().err
    assert cli.main([*args, "--label", "y", "--error-model", "--out", str(out)]) == 0
    baseline = Baseline.load(out)
    expected = Baseline.from_data(pd.read_csv(data), model="reg", version="1", output="predicted",
                                  prediction="predicted", target="y")
    assert set(baseline.features) == {"x"} and baseline.error_model == expected.error_model
    assert baseline.error_model is not None and baseline.error_model.terms == ["_prediction", "x"]
