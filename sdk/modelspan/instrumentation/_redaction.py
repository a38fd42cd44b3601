"""Privacy policy: which features are dropped or hashed, keyed hashing, and scrubbing of text.

Redaction is applied to the model input right after it is understood (:func:`redact_shaped`),
before any attribute, captured raw input or span event is built from it, so every later step
sees only dropped names and hashed values. The original values of the redacted fields are kept
for the duration of the call only (:class:`Secrets`), to scrub exception messages and outputs
that repeat them. See docs/privacy.md for the threat model.

``MODELSPAN_REDACT`` holds ``feature:action`` pairs, e.g. ``email:drop,customer_id:hash``.
Hashes are HMAC-SHA-256 keyed with ``MODELSPAN_HASH_KEY`` (or ``configure(hash_key=...)``): the
same key gives the same hash in every process (joinable), and without the key a hash cannot be
reversed by trying candidate values. ``hash`` without a key is refused unless explicitly allowed
(``allow_unkeyed_hash=True``), in which case plain SHA-256 is used and a small value space (phone
numbers, national identifiers) can be recovered by brute force.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from modelspan import semconv
from modelspan.profiling import _inputs
from modelspan.profiling._profile import is_null, safe_name

Action = Literal["drop", "hash"]
ACTIONS: tuple[str, ...] = ("drop", "hash")
REDACTED_TEXT = "[redacted]"
MIN_KEY_BYTES = 16
MAX_DEPTH = 8  # nested feature values deeper than this are emptied, not walked
MAX_NESTED_NODES = 512  # containers copied per call: bounds the walk of a fan-out object

_KEY: list[bytes | None] = [None]  # the configured hash key (a list: replaced, never rebound)


class Hashed(str):
    """A value that already is a redaction hash: hashing it again returns it unchanged."""

    __slots__ = ()


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


def check_key(policy: Mapping[str, str], key: bytes | None, allow_unkeyed: bool) -> None:
    """Refuse a ``hash`` policy without a key (unless allowed) and a key too short to be secret."""
    if key is not None and len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the hash key must be at least {MIN_KEY_BYTES} bytes long")
    hashed = sorted(name for name, action in policy.items() if action == "hash")
    if hashed and key is None and not allow_unkeyed:
        raise ValueError(
            f"redact {hashed} with 'hash' needs a secret key: set MODELSPAN_HASH_KEY or "
            "configure(hash_key=...); unkeyed hashes of small value spaces can be reversed by "
            "brute force (allow_unkeyed_hash=True accepts that)"
        )


def set_key(key: bytes | None) -> None:
    """Install the hash key (``configure`` does it after :func:`check_key`)."""
    _KEY[0] = key


def hash_value(value: object) -> Hashed:
    """Keyed hash (HMAC-SHA-256) of a value's canonical text, so equal values still group together.

    ``3``, ``3.0`` and ``"3"`` hash alike (``semconv.category_value``); a hash is returned as is.

    >>> set_key(b"0123456789abcdef")
    >>> hash_value("alice@example.com")[:20]
    'hmac-sha256:f3d6ddc7'
    >>> set_key(None)
    """
    if type(value) is Hashed:
        return value
    text = _canonical_text(value).encode("utf-8", "replace")
    key = _KEY[0]
    if key is None:
        return Hashed(semconv.REDACTED_HASH_PREFIX + hashlib.sha256(text).hexdigest())
    return Hashed(semconv.REDACTED_HMAC_PREFIX + hmac.new(key, text, hashlib.sha256).hexdigest())


def _canonical_text(value: object) -> str:
    try:
        return semconv.category_value(value) or ""
    except Exception:  # a value whose __str__ raises still gets a (type-wide) hash
        return f"<{type(value).__name__}>"


class Secrets:
    """Text forms of one call's redacted values, to scrub messages and outputs that repeat them."""

    __slots__ = ("actions", "values")

    def __init__(self) -> None:
        self.values: dict[str, Action] = {}
        self.actions: dict[str, Action] = {}

    def add(self, name: str, value: Any, action: Action) -> None:
        self.actions[name] = action
        if is_null(value) or len(self.values) >= semconv.MAX_ROW_OUTPUTS:
            return
        for text in _texts(value):
            if text and len(text) <= 4 * semconv.MAX_STRING_LENGTH:
                self.values.setdefault(text, action)

    def scrub(self, text: str) -> str:
        """``text`` with every redacted value replaced by ``[redacted]`` (longest first)."""
        for secret in sorted(self.values, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, REDACTED_TEXT)
        return text

    def __bool__(self) -> bool:
        return bool(self.actions)


def _texts(value: Any) -> list[str]:
    texts = []
    for form in (_canonical_text, str, repr):
        try:
            texts.append(form(value))
        except Exception:
            continue
    return texts


def redact_shaped(
    shaped: _inputs.Row | _inputs.Batch | None, policy: Mapping[str, str], secrets: Secrets
) -> _inputs.Row | _inputs.Batch | None:
    """A copy of the understood input with dropped features removed and hashed ones hashed."""
    if not policy or shaped is None:
        return shaped
    if type(shaped) is _inputs.Row:
        values: dict[Any, Any] = {}
        budget = [MAX_NESTED_NODES]
        for key, value in shaped.values.items():
            name = key if type(key) is str else safe_name(key)
            action = policy.get(name)
            if action is None:
                values[name] = _nested(value, policy, secrets, 0, budget)
                continue
            secrets.add(name, value, "hash" if action == "hash" else "drop")
            if action == "hash":
                values[name] = None if is_null(value) else hash_value(value)
        return _inputs.Row(values)
    assert type(shaped) is _inputs.Batch
    columns: dict[str, Any] = {}
    budget = [MAX_NESTED_NODES]
    for name, column in shaped.columns.items():
        action = policy.get(name)
        if action is None:
            columns[name] = _nested_column(column, policy, secrets, budget)
            continue
        items = column.tolist() if hasattr(column, "tolist") else list(column)
        for item in items:
            secrets.add(name, item, "hash" if action == "hash" else "drop")
        if action == "hash":
            columns[name] = [None if is_null(item) else hash_value(item) for item in items]
    return _inputs.Batch(shaped.size, columns, shaped.bad_rows, redacted=bool(shaped.columns))


def _nested(value: Any, policy: Mapping[str, str], secrets: Secrets, depth: int,
            budget: list[int] | None = None) -> Any:
    """A feature value that is itself a mapping or list: the policy applies to its keys too.

    At most ``MAX_NESTED_NODES`` values are visited per call (a fan-out object of shared
    references is not walked whole); past that, containers are left empty.
    """
    budget = [MAX_NESTED_NODES] if budget is None else budget
    budget[0] -= 1
    kind = type(value)
    if kind is dict or (kind not in _LEAVES and isinstance(value, Mapping)):
        if depth >= MAX_DEPTH or budget[0] < 0:
            return {}
        out: dict[str, Any] = {}
        for key, item in itertools.islice(value.items(), semconv.MAX_FEATURES):
            name = safe_name(key)
            action = policy.get(name)
            if action is None:
                out[name] = _nested(item, policy, secrets, depth + 1, budget)
                continue
            secrets.add(name, item, "hash" if action == "hash" else "drop")
            if action == "hash":
                out[name] = hash_value(item)
        return out
    if (kind is list or kind is tuple) and _has_containers(value):
        if depth >= MAX_DEPTH or budget[0] < 0:
            return []
        return [_nested(item, policy, secrets, depth + 1, budget)
                for item in itertools.islice(value, semconv.MAX_ROW_OUTPUTS)]
    return value


_LEAVES = (str, int, float, bool, type(None), list, tuple)


def _is_container(item: Any) -> bool:
    kind = type(item)
    return kind is dict or kind is list or kind is tuple or (kind not in _LEAVES and isinstance(item, Mapping))


def _has_containers(items: Any) -> bool:
    return any(_is_container(item) for item in itertools.islice(items, semconv.MAX_ROW_OUTPUTS))


def _nested_column(column: Any, policy: Mapping[str, str], secrets: Secrets, budget: list[int]) -> Any:
    if isinstance(column, np.ndarray) and column.dtype != object:
        return column  # numbers or strings: nothing nested
    if not any(_is_container(item) for item in column):
        return column
    return [_nested(item, policy, secrets, 1, budget) for item in column]


def scrub_output(attributes: dict[str, Any], policy: Mapping[str, str], secrets: Secrets) -> None:
    """Outputs that are a redacted field: the ``_output`` policy, or a repeated redacted value."""
    action = policy.get(semconv.OUTPUT_FEATURE)
    output_stats = semconv.batch_field(semconv.OUTPUT_FEATURE) + "."
    for key in list(attributes):
        if not key.startswith(semconv.OUTPUT_PREFIX) and not key.startswith(output_stats):
            continue
        value = attributes[key]
        if action == "drop" or (action == "hash" and not _textual(value)):
            del attributes[key]
        elif action == "hash":
            attributes[key] = _map_text(value, _attribute_hash)
        elif secrets.values and _textual(value):
            attributes[key] = _map_text(value, _secret_replacer(secrets))


def _attribute_hash(text: str) -> str:
    """The hash as a plain ``str``: older OpenTelemetry APIs (1.27, our minimum) check sequence item
    types exactly and drop a ``str`` subclass (the whole ``ml.output.labels`` list with it), logging
    only a warning."""
    return str(hash_value(text))


def _textual(value: Any) -> bool:
    return isinstance(value, str) or (
        isinstance(value, (list, tuple)) and any(isinstance(item, str) for item in value)
    )


def _map_text(value: Any, function: Any) -> Any:
    if isinstance(value, str):
        return function(value)
    return [function(item) if isinstance(item, str) else item for item in value]


def _secret_replacer(secrets: Secrets) -> Any:
    def replace(text: str) -> str:
        action = secrets.values.get(text)
        if action == "hash":
            return _attribute_hash(text)
        if action == "drop":
            return REDACTED_TEXT
        return secrets.scrub(text)

    return replace
