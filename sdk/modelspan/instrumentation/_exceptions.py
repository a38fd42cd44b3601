"""Recording a model's exception on its span without leaking the values it was called with.

OpenTelemetry's ``Span.record_exception`` stores ``str(exception)`` and the formatted traceback,
which repeat whatever the model put in its message (``ValueError(f"bad {row['email']}")``). Here
the ``exception`` event and ``status.message`` hold the exception type and its message with the
call's redacted values replaced by ``[redacted]`` (or no message at all with
``configure(exception_messages=False)``). The stack trace keeps file, line, function and source
line of each frame, never local values, and the message lines in it are scrubbed the same way.
"""

from __future__ import annotations

import traceback
from typing import Any

from opentelemetry.trace import Status, StatusCode

from modelspan import semconv
from modelspan.instrumentation._redaction import Secrets

# OpenTelemetry's exception event and attribute names (the API package does not define them).
EXCEPTION_EVENT = "exception"
EXCEPTION_TYPE = "exception.type"
EXCEPTION_MESSAGE = "exception.message"
EXCEPTION_STACKTRACE = "exception.stacktrace"
EXCEPTION_ESCAPED = "exception.escaped"

MAX_FRAMES = 64  # the innermost frames: a deep recursion does not make a megabyte trace
MAX_CHAIN = 5  # causes and contexts followed, as the interpreter prints them
_MAX_MESSAGE = semconv.MAX_RAW_INPUT_BYTES
# Scrub a little more than is kept, so a value cut at the end is scrubbed before it is cut.
_SCRUB_WINDOW = _MAX_MESSAGE + 4 * semconv.MAX_STRING_LENGTH


def exception_type(error: BaseException) -> str:
    """The exception's type as OpenTelemetry writes it (``module.Qualname``, builtins bare).

    >>> exception_type(ValueError()), exception_type(KeyboardInterrupt())
    ('ValueError', 'KeyboardInterrupt')
    """
    module = type(error).__module__
    qualname = type(error).__qualname__
    return f"{module}.{qualname}" if module and module != "builtins" else qualname


def message(error: BaseException, secrets: Secrets | None, keep: bool) -> str | None:
    """The exception's message with redacted values removed; ``None`` when messages are off.

    >>> message(ValueError("bad"), None, True), message(ValueError("bad"), None, False)
    ('bad', None)
    """
    if not keep:
        return None
    try:
        text = str(error)[:_SCRUB_WINDOW]
    except Exception:
        return "<unprintable>"
    if secrets is not None:
        text = secrets.scrub(text)
    return text[:_MAX_MESSAGE]


def stacktrace(error: BaseException, secrets: Secrets | None, keep: bool) -> str:
    """The traceback of ``error`` and its causes: frames without locals, scrubbed messages."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen and len(seen) < MAX_CHAIN:
        seen.add(id(current))
        block = ["Traceback (most recent call last):\n"] if current.__traceback__ else []
        block += traceback.format_tb(current.__traceback__, limit=-MAX_FRAMES)
        text = message(current, secrets, keep)
        block.append(exception_type(current) + (f": {text}\n" if text else "\n"))
        parts[:0] = block
        cause = current.__cause__
        if cause is not None:
            parts.insert(0, "\nThe above exception was the direct cause of the following exception:\n\n")
            current = cause
        elif current.__context__ is not None and not current.__suppress_context__:
            parts.insert(0, "\nDuring handling of the above exception, another exception occurred:\n\n")
            current = current.__context__
        else:
            current = None
    text = "".join(parts).lstrip("\n")
    return secrets.scrub(text) if secrets is not None else text


def record(span: Any, error: BaseException, secrets: Secrets | None, keep_messages: bool) -> None:
    """Put the scrubbed ``exception`` event and the ERROR status on ``span``."""
    kind = exception_type(error)
    text = message(error, secrets, keep_messages)
    attributes: dict[str, Any] = {
        EXCEPTION_TYPE: kind,
        EXCEPTION_STACKTRACE: stacktrace(error, secrets, keep_messages),
        EXCEPTION_ESCAPED: "False",
    }
    if text is not None:
        attributes[EXCEPTION_MESSAGE] = text
    span.add_event(EXCEPTION_EVENT, attributes)
    status = f"{type(error).__name__}: {text}" if text else type(error).__name__
    span.set_status(Status(StatusCode.ERROR, status[: semconv.MAX_STRING_LENGTH]))
