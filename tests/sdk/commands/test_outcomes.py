"""``modelspan outcomes load``: late labels from a CSV file, from another process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from modelspan import cli
from modelspan.store.sqlite import SQLiteStore


def _csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_load_records_every_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _csv(tmp_path / "labels.csv", "id,truth,at\np1,yes,2026-11-23T09:00:00Z\np2:0,no,\n")
    store = tmp_path / "store.db"
    code = cli.main(["outcomes", "load", str(data), "--id-column", "id", "--actual-column", "truth",
                     "--timestamp-column", "at", "--store", str(store)])
    assert code == 0 and "recorded 2 outcomes" in capsys.readouterr().out
    with SQLiteStore(store) as opened:
        rows = opened.connection.execute("SELECT prediction_id, actual, timestamp FROM outcomes ORDER BY 1").fetchall()
    assert rows[0] == ("p1", '"yes"', "2026-11-23T09:00:00.000Z")
    assert rows[1][:2] == ("p2:0", '"no"')


def test_numbers_and_bad_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store.db"
    numbers = _csv(tmp_path / "n.csv", "id,y\na,1.5\nb,2\n")
    assert cli.main(["outcomes", "load", str(numbers), "--id-column", "id", "--actual-column", "y",
                     "--actual-type", "float", "--store", str(store)]) == 0
    with SQLiteStore(store) as opened:
        assert opened.connection.execute("SELECT actual FROM outcomes ORDER BY 1").fetchall() == [("1.5",), ("2.0",)]
    capsys.readouterr()
    for text, expected in (("id,y\na,\n", "n.csv:2: empty"), ("id,y\na,x\n", "not a float"),
                           ("ident,y\na,1\n", "no column id")):
        _csv(tmp_path / "n.csv", text)
        assert cli.main(["outcomes", "load", str(numbers), "--id-column", "id", "--actual-column", "y",
                         "--actual-type", "float", "--store", str(store)]) == 2
        assert expected in capsys.readouterr().err


def test_runs_as_its_own_process(tmp_path: Path) -> None:
    data = _csv(tmp_path / "labels.csv", "pid,label\nx1,yes\n")
    result = subprocess.run([sys.executable, "-m", "modelspan", "outcomes", "load", str(data), "--id-column", "pid",
                             "--actual-column", "label", "--store", str(tmp_path / "s.db")],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "recorded 1 outcomes" in result.stdout
