"""The ``modelspan`` command line.

Each sub-command lives in its own module under ``modelspan.commands`` and exposes
``register(subparsers)``; this module discovers them, so adding a command never edits this file.
A command module whose optional dependencies are missing is skipped with a note in ``--help``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
import traceback
from collections.abc import Sequence

from modelspan import commands
from modelspan._version import __version__
from modelspan.commands import _exit


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelspan",
        description="Monitor ML models in production with OpenTelemetry and the Elastic stack.",
        epilog="Exit codes: 0 done, nothing flagged; 1 findings flagged (--fail-on); 2 nothing to analyse or "
        "misconfigured; 3 error. Each command's guide: 'python -m pydoc modelspan.commands.<command>'.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug output; tracebacks on errors")
    parser.add_argument("--version", action="version", version=f"modelspan {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    unavailable: list[str] = []
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        try:
            module = importlib.import_module(f"{commands.__name__}.{info.name}")
        except ImportError as exc:  # an optional extra is not installed
            unavailable.append(f"{info.name} (needs: {exc.name or exc})")
            continue
        module.register(subparsers)
    if unavailable:
        parser.epilog = f"{parser.epilog} Unavailable here: " + ", ".join(unavailable)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``modelspan`` script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:  # its retry warnings carry tracebacks; the command's one line says what failed
        logging.getLogger("elastic_transport").setLevel(logging.CRITICAL)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        result: int = handler(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # every failure ends as one line (and the traceback with -v)
        if args.verbose:
            traceback.print_exc()
        message, code = _exit.describe(exc)
        return _exit.fail(args.command, message, code)
    return result


if __name__ == "__main__":
    sys.exit(main())
