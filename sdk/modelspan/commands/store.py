"""``modelspan store check``: is the SQLite store file sound? (read-only; never changes the file)

    modelspan store check --store modelspan.db           # PRAGMA integrity_check
    modelspan store check --quick                          # PRAGMA quick_check: faster on large files

Prints the schema version and ``ok``, or each problem SQLite found. Exit codes: 0 sound, 2 no store
at the path, 3 damaged or unreadable (a text file, a truncated file, a newer schema). A damaged store
is best moved away (and restored from a backup): modelspan never repairs or rewrites it.
"""

from __future__ import annotations

import argparse
from typing import Any

from modelspan.commands import _exit


def register(subparsers: Any) -> None:
    """Add the ``store`` sub-command (``store check``)."""
    parser = subparsers.add_parser("store", help="check the SQLite store file",
                                   description="Inspect the embedded SQLite store without changing it.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="run SQLite's integrity check on the store (read-only)",
                               description="Open the store read-only and run PRAGMA integrity_check "
                               "(or quick_check); exit 0 when sound, 3 when damaged.")
    check.add_argument("--store", help="SQLite file (default: MODELSPAN_STORE or ./modelspan.db)")
    check.add_argument("--quick", action="store_true", help="PRAGMA quick_check (skips index contents)")
    check.set_defaults(handler=run_check)


def run_check(args: argparse.Namespace) -> int:
    """Open read-only, check, print; see the module docstring for the exit codes."""
    from modelspan.sqlite import connect, integrity_problems, store_path

    path = store_path(args.store)
    if str(path).lower().startswith(("http://", "https://")):
        return _exit.fail("store", f"{path} is an Elasticsearch URL: 'store check' checks a SQLite file",
                          _exit.NOTHING)
    connection = connect(path, read_only=True)
    try:
        version = int(connection.execute("PRAGMA user_version").fetchone()[0])
        problems = integrity_problems(connection, quick=args.quick)
    finally:
        connection.close()
    if problems:
        for problem in problems[:20]:
            print(problem)
        return _exit.fail("store", f"{path} is damaged ({len(problems)} problems): move it away and restore "
                          "it from a backup; modelspan will not write to it", _exit.ERROR)
    print(f"{path}: schema version {version}, {'quick_check' if args.quick else 'integrity_check'} ok")
    return _exit.OK
