"""Issue 14's "What was found", one row each: the message, the exit code and, for the store cases,
that the file is byte-identical afterwards (sha256 before and after) and that nothing was created.

Every case runs the real ``modelspan`` entry point (``modelspan.cli.main``) on real SQLite files and,
for Elasticsearch, a loopback port nothing listens on. The rest of the table lives beside the code it
tests: help texts in ``test_help.py``, dry runs of ``elastic setup``/``teardown`` in ``test_elastic.py``,
performance summaries in ``tests/sdk/analyzer/test_engine.py``, and the HTML report (fitted time
axes, layout measured in Chromium with 1 and 50 drifting features and a 5-minute burst, both
backends) in ``tests/sdk/report/``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from modelspan import findings
from modelspan.cli import main
from modelspan.commands import _exit
from tests.sdk.analyzer.planted import WINDOW, Plan, Traffic, generate

SINCE, UNTIL = WINDOW.iso()
WINDOW_ARGS = ["--since", SINCE, "--until", UNTIL]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def planted() -> Traffic:
    return generate(Plan(accuracy_drop=False), calls=200)


def _store(path: Path, traffic: Traffic, *, baseline: bool = True) -> Path:
    from modelspan.store.sqlite import SQLiteStore

    with SQLiteStore(path, interval_seconds=600) as store:
        if baseline:
            store.save_baseline(traffic.baseline)
        store.load_documents(traffic.documents)
        if not baseline:  # this process knows the planted baseline and saved it with the spans naming it
            store.connection.execute("DELETE FROM baselines")
    _rollback_journal(path)
    return path


def _rollback_journal(path: Path) -> None:
    """Leave WAL mode: a reader that switched the file to WAL again would change bytes 18-19."""
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode = DELETE")
    connection.close()


@pytest.fixture(scope="module")
def store(planted: Traffic, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _store(tmp_path_factory.mktemp("ops") / "store.db", planted)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line(err: str, command: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith(f"modelspan {command}")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# --- silence that looked like health -------------------------------------------------------------
@pytest.mark.parametrize("argv", [
    ["analyze", "--once"], ["analyze", "--once", "--no-write"], ["report", "--out", "{tmp}/r.html"],
    ["incidents"], ["incidents", "--no-write"], ["store", "check"],
])
def test_a_missing_store_is_named_and_never_created(argv: list[str], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "typo" / "dir" / "x.db"
    code, _, err = run(capsys, *[a.format(tmp=tmp_path) for a in argv], "--store", str(target))
    assert code == _exit.NOTHING
    assert f"no store at {target}" in one_line(err, argv[0])
    assert not (tmp_path / "typo").exists()


READERS = [["analyze", "--once", "--no-write"], ["report", "--out", "{tmp}/r.html"], ["report", "--format", "json"]]
"""Commands that read a window of model traffic: each says when there is none, and writes nothing."""


@pytest.mark.parametrize("argv", READERS, ids=lambda a: " ".join(a[:3]))
def test_an_empty_store_is_nothing_to_analyse(argv: list[str], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from modelspan.store.sqlite import SQLiteStore

    SQLiteStore(tmp_path / "empty.db").close()
    _rollback_journal(tmp_path / "empty.db")
    before = sha(tmp_path / "empty.db")
    code, out, err = run(capsys, *[a.format(tmp=tmp_path) for a in argv], "--store", str(tmp_path / "empty.db"))
    assert code == _exit.NOTHING and "no problems" not in out and out == ""
    assert "holds no model spans: nothing to analyse" in one_line(err, argv[0])
    assert sha(tmp_path / "empty.db") == before and not (tmp_path / "r.html").exists()


def test_an_unknown_model_lists_the_known_ones(store: Path, planted: Traffic,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "analyze", "--once", *WINDOW_ARGS, "--model", "nosuch", "--no-write",
                         "--store", str(store))
    assert code == _exit.NOTHING and out == ""
    assert f"unknown model 'nosuch': {store} has {planted.baseline.model}" in one_line(err, "analyze")


@pytest.mark.parametrize("argv", READERS, ids=lambda a: " ".join(a[:3]))
def test_a_window_without_traffic_says_where_the_traffic_is(argv: list[str], store: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *[a.format(tmp=tmp_path) for a in argv], "--since", "2026-11-23T10:00:00Z",
                         "--until", "2026-11-23T11:00:00Z", "--store", str(store))
    line = one_line(err, argv[0])
    assert code == _exit.NOTHING and out == "" and not (tmp_path / "r.html").exists()
    assert "no model traffic in 2026-11-23T10:00:00.000Z .. 2026-11-23T11:00:00.000Z" in line
    assert "the store has traffic from 2026-11-22T" in line and "use --since/--until" in line


def test_a_model_without_baseline_says_drift_was_not_analysed(planted: Traffic, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = _store(tmp_path / "nobaseline.db", planted, baseline=False)
    code, out, err = run(capsys, "analyze", "--once", *WINDOW_ARGS, "--no-write", "--store", str(path))
    assert code == _exit.OK and "no problems found" not in out
    assert "has no baseline, so its drift was not analysed" in err
    for way in ("configure(baselines=...)", "--baseline FILE", "modelspan baseline --out FILE"):
        assert way in err
    code, out, _ = run(capsys, "analyze", "--once", *WINDOW_ARGS, "--no-write", "--format", "json",
                       "--store", str(path))
    assert any("has no baseline" in note for note in json.loads(out)["notes"])
    code, _, err = run(capsys, "report", "--out", str(tmp_path / "r.html"), *WINDOW_ARGS, "--store", str(path))
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert code == _exit.OK, err
    assert "has no baseline, so its drift was not analysed" in page and "No data for drift" not in page


def test_not_enough_data_is_said_not_no_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from modelspan.store import Window
    from tests.sdk.report import wide

    burst = Window.parse("2026-11-22T10:20:00Z", "2026-11-22T10:25:00Z")
    path = wide.build(tmp_path / "few.db", features=3, drifting=0, burst=burst, calls=12)
    _rollback_journal(path)
    argv = ["analyze", "--once", "--since", "2026-11-22T10:00:00Z", "--until", "2026-11-22T11:00:00Z", "--no-write",
            "--store", str(path)]
    code, out, err = run(capsys, *argv)
    assert code == _exit.OK and "no problems found" not in out
    assert "no problems flagged among what could be analysed" in out
    assert "wide v1: not enough data for a drift verdict on 4 column(s) (12 values in the window at most" in err
    code, out, _ = run(capsys, *argv, "--format", "json")
    assert any("not enough data for a drift verdict" in note for note in json.loads(out)["notes"])


def test_once_without_since_covers_traffic_up_to_now(planted: Traffic, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Traffic of the last minutes is in the window of ``--once`` (not the last whole hour before it)."""
    import datetime as dt

    from modelspan.store.sqlite import SQLiteStore

    recent = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=2)
    stamp = recent.isoformat(timespec="microseconds").replace("+00:00", "Z")
    with SQLiteStore(tmp_path / "fresh.db") as db:
        db.load_documents({**doc, "@timestamp": stamp} for doc in planted.documents[-50:])
    code, out, err = run(capsys, "analyze", "--once", "--window", "1h", "--no-write",
                         "--store", str(tmp_path / "fresh.db"))
    assert code == _exit.OK, err
    assert " 1 model versions" in out.splitlines()[0]


def test_report_time_charts_fit_the_traffic_in_the_window(store: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A 24-hour window around two hours of traffic: the charts cover those hours, and the page says so."""
    out = tmp_path / "r.html"
    code, _, err = run(capsys, "report", "--out", str(out), "--since", "2026-11-21T12:00:00Z", "--until",
                       "2026-11-22T12:00:00Z", "--store", str(store))
    text = out.read_text()
    assert code == _exit.OK, err
    assert 'data-start="2026-11-21T12:00:00.000Z" data-end="2026-11-22T12:00:00.000Z"' in text
    assert "Window <b>2026-11-21 12:00:00</b> → <b>2026-11-22 12:00:00</b> UTC (24 h)" in text
    assert "Time charts cover this version's traffic: 2026-11-22 09:" in text


# --- the store is never damaged ------------------------------------------------------------------
def _text_file(path: Path, _: Path) -> Path:
    path.write_text("model,version\nnot,a database\n")
    return path


def _directory(path: Path, _: Path) -> Path:
    path.mkdir()
    return path


def _truncated(path: Path, good: Path) -> Path:
    data = good.read_bytes()
    page = int.from_bytes(data[16:18], "big") or 65536
    path.write_bytes(data[: len(data) // 2 // page * page])  # whole pages: only the size tells
    return path


def _newer(path: Path, good: Path) -> Path:
    path.write_bytes(good.read_bytes())
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA user_version = 999")
    connection.close()
    return path


STORE_CASES: dict[str, tuple[Callable[[Path, Path], Path], str]] = {
    "text file": (_text_file, "is not a usable modelspan store (file is not a database)"),
    "directory": (_directory, "is a directory, not a store file"),
    "truncated": (_truncated, "bad.db is "),  # "truncated" or SQLite's "database disk image is malformed"
    "newer schema": (_newer, "has store schema version 999, newer than this modelspan's"),
}
COMMANDS = [
    ["analyze", "--once", *WINDOW_ARGS], ["analyze", "--once", *WINDOW_ARGS, "--no-write"],
    ["report", "--out", "{tmp}/r.html", *WINDOW_ARGS], ["incidents", *WINDOW_ARGS],
    ["outcomes", "load", "{tmp}/labels.csv", "--id-column", "id", "--actual-column", "label"],
    ["store", "check"],
]


@pytest.mark.parametrize("case", sorted(STORE_CASES))
@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_a_bad_store_is_refused_in_one_line_and_left_byte_identical(
        case: str, argv: list[str], store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make, message = STORE_CASES[case]
    target = make(tmp_path / "bad.db", store)
    (tmp_path / "labels.csv").write_text("id,label\na,1\n")
    before = sha(target) if target.is_file() else None
    listing = sorted(p.name for p in tmp_path.iterdir())
    code, _, err = run(capsys, *[a.format(tmp=tmp_path) for a in argv], "--store", str(target))
    assert code == _exit.ERROR
    assert message in one_line(err, argv[0])
    assert (sha(target) if target.is_file() else None) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == listing  # no -wal, -shm or report left behind


@pytest.mark.parametrize("argv", [
    ["analyze", "--once", *WINDOW_ARGS, "--no-write"], ["report", "--out", "{tmp}/r.html", *WINDOW_ARGS],
    ["incidents", *WINDOW_ARGS, "--no-write"], ["store", "check"],
])
def test_read_commands_never_write(argv: list[str], store: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Not even the journal mode (bytes 18-19) or ``PRAGMA optimize`` statistics; a read-only file reads."""
    copy = tmp_path / "copy.db"
    copy.write_bytes(store.read_bytes())
    copy.chmod(0o444)
    before = sha(copy)
    code, _, err = run(capsys, *[a.format(tmp=tmp_path) for a in argv], "--store", str(copy))
    assert code == _exit.OK, err
    assert sha(copy) == before


def _without_write_permission(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run ``modelspan argv`` as a user who may read but not write the store: this user when it is not
    root (the file is mode 0444), else the ``nobody`` user through ``setpriv`` (root writes any file)."""
    if os.geteuid() != 0:
        code, _, err = run(capsys, *argv)
        return code, err
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: no user to whom the file is read-only")
    as_nobody = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable]
    probe = subprocess.run([*as_nobody, "-c", "import modelspan.cli"], capture_output=True, text=True, timeout=120,
                           check=False)
    if probe.returncode != 0:  # e.g. an interpreter under /root (pyenv) that nobody may not load
        pytest.skip(f"this Python cannot run as nobody: {probe.stderr.strip()[-200:]}")
    done = subprocess.run([*as_nobody, "-m", "modelspan.cli", *argv], capture_output=True, text=True, timeout=120,
                          check=False)
    return done.returncode, done.stderr


@pytest.mark.parametrize(("argv", "code", "message"), [
    (["analyze", "--once", *WINDOW_ARGS], _exit.ERROR, "is read-only: use a read command"),
    (["outcomes", "load", "{tmp}/labels.csv", "--id-column", "id", "--actual-column", "label"], _exit.ERROR,
     "is read-only: use a read command"),
    (["analyze", "--once", *WINDOW_ARGS, "--no-write"], _exit.OK, ""),
])
def test_a_read_only_store_is_read_and_never_written(argv: list[str], code: int, message: str, store: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    folder = Path(tempfile.mkdtemp(prefix="modelspan-ro-"))  # not under pytest's 0700 folders: nobody reads it
    try:
        folder.chmod(0o755)
        copy = folder / "store.db"
        copy.write_bytes(store.read_bytes())
        copy.chmod(0o444)
        (folder / "labels.csv").write_text("id,label\na,1\n")
        (folder / "labels.csv").chmod(0o444)
        before, listing = sha(copy), sorted(p.name for p in folder.iterdir())
        found, err = _without_write_permission([*[a.format(tmp=folder) for a in argv], "--store", str(copy)], capsys)
        assert found == code, err
        if message:
            assert message in one_line(err, argv[0])
        assert "Traceback" not in err and sha(copy) == before
        assert sorted(p.name for p in folder.iterdir()) == listing
    finally:
        shutil.rmtree(folder)


def test_a_damaged_page_is_found_and_never_written_to(store: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    damaged = tmp_path / "damaged.db"
    data = bytearray(store.read_bytes())
    page = int.from_bytes(data[16:18], "big") or 65536
    for offset in range(3 * page, min(len(data), 6 * page), 7):  # interior pages, not the header
        data[offset] = 0xA5
    damaged.write_bytes(bytes(data))
    before = sha(damaged)
    code, out, err = run(capsys, "store", "check", "--store", str(damaged))
    assert code == _exit.ERROR and out.strip()
    assert "is damaged" in one_line(err, "store")
    (tmp_path / "labels.csv").write_text("id,label\na,1\n")
    code, _, err = run(capsys, "outcomes", "load", str(tmp_path / "labels.csv"), "--id-column", "id",
                       "--actual-column", "label", "--store", str(damaged))
    assert code == _exit.ERROR and "is damaged: nothing was written" in one_line(err, "outcomes")
    assert sha(damaged) == before
    code, _, err = run(capsys, "analyze", "--once", *WINDOW_ARGS, "--store", str(damaged))
    assert code == _exit.ERROR and "is damaged: nothing was written" in one_line(err, "analyze")
    assert sha(damaged) == before  # refused before the writing open could switch the journal mode
    code, _, err = run(capsys, "analyze", "--once", *WINDOW_ARGS, "--no-write", "--store", str(damaged))
    assert code == _exit.ERROR and "the store cannot be read" in one_line(err, "analyze")
    assert sha(damaged) == before


def test_store_check_says_ok_on_a_sound_store(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for quick in ([], ["--quick"]):
        code, out, _ = run(capsys, "store", "check", "--store", str(store), *quick)
        assert code == _exit.OK and out.strip().endswith("ok") and "schema version" in out


# --- Elasticsearch unreachable -------------------------------------------------------------------
@pytest.fixture(scope="module")
def dead_url() -> str:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("argv", [
    ["analyze", "--once", *WINDOW_ARGS, "--no-write"], ["report", "--out", "{tmp}/r.html", *WINDOW_ARGS],
    ["incidents", *WINDOW_ARGS, "--no-write"],
    ["outcomes", "load", "{tmp}/labels.csv", "--id-column", "id", "--actual-column", "label"],
])
def test_unreachable_elasticsearch_is_one_line(argv: list[str], dead_url: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "labels.csv").write_text("id,label\na,1\n")
    code, _, err = run(capsys, *[a.format(tmp=tmp_path) for a in argv], "--store", dead_url)
    assert code == _exit.ERROR
    assert "cannot reach Elasticsearch (Connection refused): check --store" in one_line(err, argv[0])
    assert err.count("\n") == 1


# --- arguments validated up front ----------------------------------------------------------------
@pytest.mark.parametrize(("argv", "message"), [
    (["analyze", "--every", "99999999999d"], "duration '99999999999d' is out of range"),
    (["analyze", "--every", "0.0001s"], "duration '0.0001s' is out of range"),
    (["analyze", "--once", "--since", "0001-01-01T00:00:00Z"], "--since 0001-01-01T00:00:00Z is before 1970"),
    (["analyze", "--once", "--since", "2020-01-01T00:00:00Z"], "is longer than 400 days"),
    (["analyze", "--every", "1m", "--since", "garbage"], "--since: not an ISO 8601 time: 'garbage'"),
    (["analyze", "--every", "1s", "--since", "1990-01-01T00:00:00Z"], "windows of 0:00:01 ago"),
])
def test_absurd_times_are_refused_before_the_store_is_opened(argv: list[str], message: str, store: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    before = sha(store)
    try:
        code, _, err = run(capsys, *argv, "--store", str(store))
    except SystemExit as exc:  # argparse's own errors: usage, then one error line
        code, err = int(str(exc.code)), capsys.readouterr().err
    assert code == _exit.NOTHING
    assert message in err and "Traceback" not in err
    assert sha(store) == before


@pytest.mark.parametrize(("csv_text", "extra", "message"), [
    ("age,country\n", [], "has no data rows"),
    ("age,country\n1,US\n2,DE\n", ["--bins", "100000000"], "--bins 100000000 is out of range"),
    ("age,country\n1,US\n2,DE\n", ["--categorical", "nosuch"], "--categorical nosuch: no such column"),
    ("age,country\n1,US\n2,DE\n", ["--out", "{tmp}/missing/b.json"], "no directory {tmp}/missing for --out"),
])
def test_baseline_refuses_bad_input(csv_text: str, extra: list[str], message: str, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data.csv"
    data.write_text(csv_text)
    code, out, err = run(capsys, "baseline", str(data), "--model", "m", "--version", "1",
                         *[a.format(tmp=tmp_path) for a in extra])
    assert code == _exit.NOTHING and out == ""
    assert message.format(tmp=tmp_path) in one_line(err, "baseline")
    assert not (tmp_path / "missing").exists() and not list(tmp_path.glob("*.json"))


# --- scriptability -------------------------------------------------------------------------------
def test_fail_on_gives_a_distinct_exit_code(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["analyze", "--once", *WINDOW_ARGS, "--no-write", "--store", str(store)]
    assert run(capsys, *base)[0] == _exit.OK
    assert run(capsys, *base, "--fail-on", "warning")[0] == _exit.FLAGGED


def test_json_output_is_one_versioned_schema(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shapes = []
    for argv in (["analyze", "--once", "--no-write"], ["incidents", "--no-write"], ["report"]):
        code, out, _ = run(capsys, *argv, *WINDOW_ARGS, "--format", "json", "--store", str(store))
        document = json.loads(out)
        assert code == _exit.OK and document["schema"] == "modelspan.output/1"
        assert document["command"] == argv[0] and document["window"] == {"start": SINCE, "end": UNTIL}
        assert document["flagged"] == sum(1 for f in document["findings"] if f.get(findings.FLAGGED))
        shapes.append({"schema", "command", "window", "findings", "flagged", "notes"} <= set(document))
    assert shapes == [True, True, True]


def test_catch_up_analyses_due_windows_and_fails_on_flagged(store: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "copy.db"
    copy.write_bytes(store.read_bytes())
    code, out, err = run(capsys, "analyze", "--once", "--catch-up", "--window", "1h", "--since", SINCE,
                         "--no-write", "--format", "json", "--fail-on", "warning", "--store", str(copy))
    windows = [json.loads(line) for line in out.splitlines()]
    assert code == _exit.FLAGGED, err
    assert windows[0]["window"] == {"start": SINCE, "end": UNTIL} and windows[0]["flagged"] > 0


def test_version_and_verbose_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from modelspan import __version__

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"modelspan {__version__}"
    bad = tmp_path / "bad.db"
    bad.write_text("not a database")
    code, _, err = run(capsys, "-v", "analyze", "--once", "--store", str(bad))
    assert code == _exit.ERROR and "Traceback" in err and err.rstrip().splitlines()[-1].startswith("modelspan")
