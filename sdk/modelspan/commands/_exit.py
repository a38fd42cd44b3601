"""Exit codes and one-line errors shared by every ``modelspan`` command (see ``docs/cli.md``).

=====  ===============================================================================
code   meaning
=====  ===============================================================================
0      done: analysed, and nothing flagged at or above ``--fail-on`` (or no ``--fail-on``)
1      done, and findings were flagged at or above ``--fail-on warning|critical``
2      nothing to analyse or misconfigured: bad arguments, no store at the path, an empty
       store, an unknown model, a window without traffic
3      error: the store cannot be read (damaged, newer schema, read-only for a write),
       Elasticsearch unreachable, a file that cannot be written, any unexpected failure
=====  ===============================================================================

Errors are one line on stderr, ``modelspan <command>: <cause>: <fix>``; ``-v`` adds the traceback.
"""

from __future__ import annotations

import re
import sqlite3
import sys

OK = 0
FLAGGED = 1
NOTHING = 2
ERROR = 3

_NETWORK_MODULES = ("elastic_transport", "elasticsearch", "urllib3")


class CommandError(Exception):
    """A refusal a command explains in one line, with the exit code it ends with."""

    def __init__(self, message: str, code: int = NOTHING) -> None:
        super().__init__(message)
        self.code = code


def fail(command: str, message: str, code: int) -> int:
    """Print ``modelspan <command>: <message>`` on stderr and return ``code``."""
    print(f"modelspan {command}: {message}", file=sys.stderr)
    return code


def _unreachable(exc: BaseException) -> bool:
    return isinstance(exc, ConnectionError) or type(exc).__module__.split(".")[0] in _NETWORK_MODULES


def _cause(exc: BaseException) -> str:
    """The root of a chained transport error, e.g. ``Connection refused``, in a few words."""
    text = str(exc)
    errno = re.search(r"\[Errno -?\d+\] ([^)'\"]+)", text)
    if errno:
        return errno.group(1).strip()
    return (text.splitlines()[0][:120] if text else "") or type(exc).__name__


def describe(exc: BaseException) -> tuple[str, int]:
    """The one-line message and exit code for an exception a command did not handle itself."""
    from modelspan.sqlite import NoStoreError, StoreFileError

    if isinstance(exc, CommandError):
        return str(exc), exc.code
    if isinstance(exc, StoreFileError):
        return str(exc), NOTHING if isinstance(exc, NoStoreError) else ERROR
    if _unreachable(exc):
        return (f"cannot reach Elasticsearch ({_cause(exc)}): check --store / ELASTICSEARCH_URL and that the "
                "cluster is up", ERROR)
    if isinstance(exc, sqlite3.DatabaseError):
        return f"the store cannot be read ({exc}): run 'modelspan store check --store PATH'", ERROR
    if isinstance(exc, ValueError):
        return str(exc), NOTHING
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc), ERROR
    return f"{type(exc).__name__}: {exc} (run 'modelspan -v ...' for the traceback)", ERROR
