"""``modelspan analyze``: --once tables and JSON, references, --no-write, and --every stopping on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from modelspan import findings
from modelspan.cli import main
from modelspan.commands.analyze import duration, table
from tests.sdk.analyzer.planted import CLEAN, WINDOW, Plan, Traffic, generate

SINCE, UNTIL = WINDOW.iso()


@pytest.fixture(scope="module")
def planted() -> Traffic:
    return generate(Plan(accuracy_drop=False), calls=300)


def _database(path: Path, traffic: Traffic, labels: bool = False) -> Path:
    from modelspan.store.sqlite import SQLiteStore

    with SQLiteStore(path, interval_seconds=600) as store:
        store.save_baseline(traffic.baseline)
        store.load_documents(traffic.documents)
        if labels:
            store.record_outcomes(traffic.outcomes)
    return path


@pytest.fixture(scope="module")
def database(planted: Traffic, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _database(tmp_path_factory.mktemp("analyze") / "store.db", planted)


def test_once_json_names_the_planted_problems(database: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["analyze", "--once", "--since", SINCE, "--until", UNTIL, "--store", str(database),
                 "--format", "json", "--no-write"])
    out = capsys.readouterr()
    assert code == 0 and out.err == ""  # no progress lines in JSON mode
    report = json.loads(out.out)
    assert report["window"] == {"start": SINCE, "end": UNTIL} and report["reference"] == "baseline"
    drifted = {f[findings.FEATURE_NAME] for f in report["findings"]
               if f[findings.TYPE] == findings.TYPE_DRIFT and f[findings.FLAGGED]}
    assert drifted == {"age", "temp", "country"} and report["written"] == 0


def test_once_table_with_progress_on_stderr(database: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "--once", "--since", SINCE, "--until", UNTIL, "--store", str(database)]) == 0
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert lines[0].startswith(f"window {SINCE} .. {UNTIL}, reference baseline: 1 model versions")
    assert lines[1].split() == ["type", "model", "version", "severity", "summary"]
    assert any(line.startswith("novel_path") and "fallback" in line for line in lines)
    assert any(line.startswith("drift") and "'temp'" in line for line in lines)
    assert "[1/1] fraud v2:" in out.err
    from modelspan.store.sqlite import SQLiteStore

    with SQLiteStore(database) as store:  # written back, replacing on a re-run
        first = len(store.read_findings(WINDOW))
        assert main(["analyze", "--once", "--since", SINCE, "--until", UNTIL, "--store", str(database)]) == 0
        assert len(store.read_findings(WINDOW)) == first > 0


def test_reference_choices_and_bad_arguments(database: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["analyze", "--once", "--since", SINCE, "--until", UNTIL, "--store", str(database), "--format", "json",
            "--no-write"]
    assert main([*base, "--reference", "previous"]) == 0
    assert json.loads(capsys.readouterr().out)["reference"] == "previous"
    assert main([*base, "--reference", "2026-11-22T09:00:00Z/2026-11-22T10:00:00Z"]) == 0
    assert json.loads(capsys.readouterr().out)["findings"][0][findings.REFERENCE_START] == "2026-11-22T09:00:00.000Z"
    assert main([*base, "--reference", "tomorrow"]) == 2
    assert "tomorrow" in capsys.readouterr().err
    assert main(["analyze", "--once", "--since", UNTIL, "--until", SINCE, "--store", str(database)]) == 2
    assert "empty" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["analyze", "--once", "--every", "5m"])
    with pytest.raises(SystemExit):
        main(["analyze", "--every", "soon"])


def test_durations_and_table() -> None:
    assert [duration(text).total_seconds() for text in ("30s", "5m", "1h", "1d", "90")] == [30, 300, 3600, 86400, 90]
    rows = [{findings.TYPE: "drift", findings.MODEL_NAME: "m", findings.MODEL_VERSION: "1",
             findings.SEVERITY: "warning", findings.SUMMARY: "x" * 300}]
    lines = table(rows, width=50).splitlines()
    assert len(lines) == 3 and lines[2].endswith("x...") and len(lines[2].split()[-1]) == 50


def test_every_stops_on_sigterm_after_finishing_the_window(tmp_path: Path) -> None:
    database = _database(tmp_path / "store.db", generate(CLEAN, calls=120, seed=9))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "modelspan", "analyze", "--every", "5m", "--since", SINCE, "--store", str(database),
         "--format", "json", "--no-write"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        first = json.loads(process.stdout.readline())  # one window analysed: now stop it mid-backlog
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    windows = [first, *(json.loads(line) for line in out.splitlines() if line.strip())]
    assert windows[0]["window"]["start"] == SINCE and "checkpoint saved" in err
    assert len(windows) < 288  # stopped long before the backlog (a day of windows) was done
    from modelspan.store.sqlite import SQLiteStore

    with SQLiteStore(database) as store:
        assert store.get_checkpoint("analyze") == windows[-1]["window"]["end"]
