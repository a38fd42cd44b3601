"""Opt-in raw input capture (``ml.input.raw``): JSON of the redacted input, bounded while written.

An understood input is captured in its normalised form, after redaction: one row as
``{feature: value}``, a batch as a list of such rows. An input that is not understood is written
as it is, with the policy applied to mapping keys at every depth. The writer stops as soon as
``MAX_RAW_INPUT_BYTES`` are written, so the cost of a call never depends on the size of the input:
at most ``MAX_RAW_INPUT_BYTES`` elements are visited (each costs at least one byte), every string is
cut to ``MAX_STRING_LENGTH`` characters before it is encoded, a container yields at most
``MAX_ROW_OUTPUTS`` items and a mapping ``MAX_FEATURES``. Objects of other types are written as
``"<TypeName>"`` (their ``repr`` could be large, slow, or show redacted values); a value that
raises while written is ``"<error>"``.
"""

from __future__ import annotations

import datetime
import decimal
import itertools
import json
import math
import uuid
from collections.abc import Mapping
from typing import Any

import numpy as np

from modelspan import semconv
from modelspan.instrumentation._redaction import hash_value
from modelspan.profiling import _inputs
from modelspan.profiling._profile import safe_name

MAX_DEPTH = 8
_AS_TEXT = (datetime.date, datetime.time, datetime.timedelta, decimal.Decimal, uuid.UUID)
_MAX_INT_BITS = 256


class _Full(Exception):
    """The byte budget is spent: stop writing."""


class _Writer:
    __slots__ = ("budget", "parts", "policy", "size")

    def __init__(self, policy: Mapping[str, str], budget: int) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.policy = policy
        self.budget = budget

    def put(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)  # characters: a lower bound of bytes, exact for ASCII
        if self.size > self.budget:
            raise _Full

    def value(self, value: Any, depth: int) -> None:
        try:
            self._value(value, depth)
        except _Full:
            raise
        except Exception:  # a hostile __len__, __iter__, item(), __str__...
            self.put('"<error>"')

    def _value(self, value: Any, depth: int) -> None:
        kind = type(value)
        if value is None or kind is bool:
            self.put("null" if value is None else ("true" if value else "false"))
        elif kind is float or isinstance(value, (float, np.floating)):
            number = float(value)
            self.put(repr(number) if math.isfinite(number) else f'"{number!r}"')
        elif kind is int or isinstance(value, (int, np.integer)):
            number = int(value)
            self.put(str(number) if number.bit_length() <= _MAX_INT_BITS else '"<int>"')
        elif isinstance(value, str):
            self.put(_text(str.__str__(value)))
        elif depth >= MAX_DEPTH:
            self.put('"<...>"')
        elif kind is list or kind is tuple:
            self.sequence(value, depth)
        elif kind is dict or isinstance(value, Mapping):
            self.mapping(value.items(), depth)
        elif isinstance(value, (list, tuple)):
            self.sequence(value, depth)
        elif isinstance(value, np.ndarray):
            self.value(value.item(), depth) if value.ndim == 0 else self.sequence(value, depth)
        elif isinstance(value, np.generic):
            self.value(value.item(), depth)
        elif isinstance(value, (bytes, bytearray)):
            self.put(_text(bytes(value[: semconv.MAX_STRING_LENGTH]).decode("utf-8", "replace")))
        elif isinstance(value, _AS_TEXT):
            self.put(_text(str(value)))
        else:
            self.put(_text(f"<{kind.__name__}>"))

    def mapping(self, items: Any, depth: int) -> None:
        self.put("{")
        first = True
        for key, item in itertools.islice(items, semconv.MAX_FEATURES):
            name = safe_name(key)
            action = self.policy.get(name)
            if action == "drop":
                continue
            self.put(_text(name) + ": " if first else ", " + _text(name) + ": ")
            first = False
            if action == "hash":
                self.put(_text(hash_value(item)))
            else:
                self.value(item, depth + 1)
        self.put("}")

    def sequence(self, items: Any, depth: int) -> None:
        self.put("[")
        for index, item in enumerate(itertools.islice(items, semconv.MAX_ROW_OUTPUTS)):
            if index:
                self.put(", ")
            self.value(item, depth + 1)
        self.put("]")

    def rows(self, batch: _inputs.Batch) -> None:
        self.put("[")
        names = list(batch.columns)
        for index in range(min(batch.size, semconv.MAX_ROW_OUTPUTS)):
            if index:
                self.put(", ")
            self.mapping(((name, _cell(batch.columns[name], index)) for name in names), 0)
        self.put("]")


def _text(text: str) -> str:
    return json.dumps(text[: semconv.MAX_STRING_LENGTH], ensure_ascii=False)


def _cell(column: Any, index: int) -> Any:
    return column[index] if index < len(column) else None


def raw_input(
    value: Any,
    shaped: _inputs.Row | _inputs.Batch | None,
    policy: Mapping[str, str],
    budget: int = semconv.MAX_RAW_INPUT_BYTES,
) -> str:
    """JSON of the (already redacted) understood input, else of ``value`` redacted by ``policy``;
    at most ``budget`` bytes (a cut text is not valid JSON: it was truncated).

    >>> raw_input({"email": "a@b", "x": 1}, None, {"email": "drop"})
    '{"x": 1}'
    """
    writer = _Writer(policy, budget)
    try:
        if type(shaped) is _inputs.Row:
            writer.mapping(shaped.values.items(), 0)
        elif type(shaped) is _inputs.Batch and (shaped.columns or shaped.redacted):
            writer.rows(shaped)
        else:
            writer.value(value, 0)
    except _Full:
        pass
    encoded = "".join(writer.parts).encode("utf-8", "replace")
    if len(encoded) > budget:
        return encoded[:budget].decode("utf-8", "ignore")
    return encoded.decode("utf-8")
