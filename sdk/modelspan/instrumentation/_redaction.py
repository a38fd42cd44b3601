"""Privacy policy: which features are dropped or hashed, and opt-in capture of raw inputs.

Raw inputs are never captured unless the user opts in (``configure(capture_inputs=True)`` or
``MODELSPAN_CAPTURE_INPUTS=true``). Redaction applies everywhere a feature's value could appear:
single-row ``ml.feature.*`` values, batch top categories and the captured raw input.

``MODELSPAN_REDACT`` holds ``feature:action`` pairs, e.g. ``email:drop,customer_id:hash``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any, Literal

from modelspan import semconv
from modelspan.profiling._profile import safe_name

Action = Literal["drop", "hash"]
ACTIONS: tuple[str, ...] = ("drop", "hash")


def parse_policy(value: str) -> dict[str, Action]:
    """Parse ``"email:drop,ssn:hash"``; raises ``ValueError`` on a malformed entry.

    >>> parse_policy("email:drop, ssn:hash")
    {'email': 'drop', 'ssn': 'hash'}
    """
    policy: dict[str, Action] = {}
    for part in value.split(","):
        if not part.strip():
            continue
        name, sep, action = part.strip().rpartition(":")
        if not sep or not name or action not in ACTIONS:
            raise ValueError(f"redaction entry {part!r} is not <feature>:drop|hash")
        policy[name] = "drop" if action == "drop" else "hash"
    return policy


def check_policy(policy: Mapping[str, str]) -> dict[str, Action]:
    """Validate a ``redact=`` argument; raises ``ValueError`` on an unknown action."""
    checked: dict[str, Action] = {}
    for name, action in policy.items():
        if action not in ACTIONS:
            raise ValueError(f"redact[{name!r}] must be 'drop' or 'hash', got {action!r}")
        checked[str(name)] = "drop" if action == "drop" else "hash"
    return checked


def hash_value(value: object) -> str:
    """Stable hash of a value, so equal values still group together.

    >>> hash_value("alice@example.com")[:15]
    'sha256:ff8d9819'
    """
    digest = hashlib.sha256(str(value).encode("utf-8", "replace")).hexdigest()
    return semconv.REDACTED_HASH_PREFIX + digest[:32]


def raw_input(value: Any, policy: Mapping[str, str]) -> str:
    """JSON of a (redacted) input, truncated to ``MAX_RAW_INPUT_BYTES``."""
    text = json.dumps(_redact(value, policy), default=repr, allow_nan=False)
    encoded = text.encode("utf-8", "replace")
    if len(encoded) > semconv.MAX_RAW_INPUT_BYTES:
        text = encoded[: semconv.MAX_RAW_INPUT_BYTES].decode("utf-8", "ignore")
    return text


def _redact(value: Any, policy: Mapping[str, str], depth: int = 0) -> Any:
    if depth > 4:
        return repr(value)[: semconv.MAX_STRING_LENGTH]
    if isinstance(value, Mapping):
        out = {}
        for key, item in list(value.items())[: semconv.MAX_FEATURES]:
            name = safe_name(key)
            action = policy.get(name)
            if action == "drop":
                continue
            out[name] = hash_value(item) if action == "hash" else _redact(item, policy, depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [_redact(item, policy, depth + 1) for item in value[: semconv.MAX_ROW_OUTPUTS]]
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # JSON has no NaN/inf
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value[: semconv.MAX_STRING_LENGTH] if isinstance(value, str) else value
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        try:
            return _redact(tolist(), policy, depth + 1)
        except Exception:
            pass
    return repr(value)[: semconv.MAX_STRING_LENGTH]
