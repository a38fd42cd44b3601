"""``modelspan.assign``: deterministic experiment arms, and the experiment scope model spans read.

Assignment is GrowthBook's hashing scheme (version 2), so any system that knows the experiment's
seed, the unit id and the weights recomputes the arm offline, with no lookup table:

1. ``fnv1a32(text)``: 32-bit FNV-1a over the characters of ``text`` (``ord`` of each character, as
   GrowthBook's SDKs on ASCII ids; offset basis ``0x811C9DC5``, prime ``0x01000193``, modulo 2^32);
2. ``bucket = fnv1a32(str(fnv1a32(seed + unit))) % 10000 / 10000``, a number in [0, 1) (the seed
   defaults to the experiment id);
3. the arm is the first whose cumulative normalised weight exceeds ``bucket``.

A root model call (a ``@modelspan.monitor`` call not nested in another) made inside
``with assignment:`` carries ``ml.experiment.id``, ``ml.experiment.arm`` and the unit's pseudonym
``ml.experiment.unit``; ``modelspan.shadow`` uses the same scope for its challenger calls.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from modelspan import semconv

_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


def fnv1a32(text: str) -> int:
    """32-bit FNV-1a of ``text`` as GrowthBook computes it.

    >>> fnv1a32("hello")
    1335831723
    """
    value = _FNV_OFFSET
    for char in text:
        value = ((value ^ ord(char)) * _FNV_PRIME) & 0xFFFFFFFF
    return value


def bucket(seed: str, unit: str) -> float:
    """GrowthBook's version-2 hash of ``seed + unit`` to a bucket in [0, 1) (4 decimals)."""
    return fnv1a32(str(fnv1a32(seed + unit))) % 10000 / 10000


def unit_pseudonym(experiment: str, unit: str) -> str:
    """The unit id as stored: 16 hex digits of sha256 over the experiment and the unit."""
    return hashlib.sha256(f"{experiment}\x1f{unit}".encode()).hexdigest()[:16]


def choose(position: float, weights: Sequence[float]) -> int:
    """Index of the arm whose cumulative share of ``weights`` first exceeds ``position``."""
    total = float(sum(weights))
    cumulative = 0.0
    for index, weight in enumerate(weights):
        cumulative += weight / total
        if position < cumulative:
            return index
    return len(weights) - 1  # rounding left the last sliver of [0, 1) uncovered


@dataclass
class Scope:
    """Experiment attributes for the root model calls made inside it, and a hook for the first one.

    ``links`` are OpenTelemetry links for the spans; ``on_start(span, prediction_id)`` and
    ``on_finish(span, result, error) -> attributes set`` let ``modelspan.shadow`` see the calls.
    """

    attributes: dict[str, Any]
    links: Sequence[Any] = ()
    on_start: Callable[[Any, str], None] | None = None
    on_finish: Callable[[Any, Any, BaseException | None], int] | None = None


current: ContextVar[Scope | None] = ContextVar("modelspan_experiment", default=None)


@dataclass(frozen=True)
class Assignment:
    """The arm of one unit in one experiment; use it as a context manager around the unit's calls.

    >>> a = Assignment("ranker-v2", "challenger", 0.4211, "5f1d...")
    >>> a.arm
    'challenger'
    """

    experiment: str
    arm: str
    bucket: float
    unit: str
    _tokens: list[Token[Scope | None]] = field(default_factory=list, init=False, repr=False, compare=False)

    def __enter__(self) -> Assignment:
        attributes = {semconv.EXPERIMENT_ID: self.experiment, semconv.EXPERIMENT_ARM: self.arm,
                      semconv.EXPERIMENT_UNIT: self.unit}
        self._tokens.append(current.set(Scope(attributes)))
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._tokens:
            current.reset(self._tokens.pop())


def assign(experiment: str, unit: Any, arms: Sequence[str], weights: Sequence[float] | None = None, *,
           seed: str | None = None) -> Assignment:
    """The arm of ``unit`` in ``experiment``: deterministic, recomputable offline (module docstring).

    ``weights`` default to equal; ``seed`` to the experiment id (change it to reshuffle units).
    Raises ``ValueError`` on bad arguments (this runs before the user's call, never inside it).

    >>> import modelspan
    >>> a = modelspan.assign("ranker-v2", "user-42", ["champion", "challenger"], [0.5, 0.5])
    >>> a.arm == modelspan.assign("ranker-v2", "user-42", ["champion", "challenger"], [0.5, 0.5]).arm
    True
    >>> with a:
    ...     pass  # monitored calls here carry ml.experiment.id / .arm / .unit
    """
    names = [str(arm) for arm in arms]
    if len(names) < 1 or len(set(names)) != len(names):
        raise ValueError(f"arms must be distinct and at least one, got {names}")
    shares = [1.0] * len(names) if weights is None else [float(w) for w in weights]
    if len(shares) != len(names) or any(not (w >= 0) for w in shares) or sum(shares) <= 0:
        raise ValueError(f"weights must be one non-negative number per arm with a positive sum, got {weights}")
    unit_text = str(unit)
    position = bucket(experiment if seed is None else seed, unit_text)
    return Assignment(str(experiment), names[choose(position, shares)], position,
                      unit_pseudonym(str(experiment), unit_text))
