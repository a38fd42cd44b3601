"""Single-row feature values and the call-time checks; failures are counted, never raised.

Checks (``semconv.CHECKS``): null, NaN/infinity, a type change against the baseline schema (a
scalar that became a list, a number that became a string), a value outside the baseline's
``[min, max]``, a category (or, for text, a token) the baseline never saw. Each failure becomes
``ml.quality.<check>`` (the features) and ``ml.quality.<check>.count`` on the span, plus one
bounded ``ml.quality`` span event.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from modelspan import semconv
from modelspan.instrumentation import _redaction
from modelspan.profiling import _profile

if TYPE_CHECKING:
    from modelspan.baseline import Baseline, FeatureProfile

MAX_QUALITY_EVENTS = 32
_NUMBER_TYPES = (int, float)
# Feature name -> its ``ml.feature.<name>`` key. One string object per name means its hash is
# computed once, not on every call in every dict the attributes pass through. Bounded: inputs
# with ever-new keys fall back to building the key each time.
_KEYS: dict[str, str] = {}
_MAX_KEYS = 4096
_MAX_KEY_NAME = 128  # long names are not kept: the cache stays small whatever the input


class Quality:
    """Check failures collected during one call."""

    __slots__ = ("counts", "features", "tokens")

    def __init__(self) -> None:
        self.features: dict[str, list[str]] = {}
        self.counts: dict[str, int] = {}
        # Text features' token counts for the profile (never written to the span): feature ->
        # [tokens, out-of-vocabulary tokens, OOV rate x weight, weight] (``add_tokens``).
        self.tokens: dict[str, list[float]] | None = None

    def add_tokens(self, feature: str, words: int, unseen: int, weight: int) -> None:
        """Count a text value's (``weight`` 1) or a batch column's (``weight`` its texts) tokens.

        The rate is weighted as the span answers weight it (``store._answers``): a single row's own
        rate, a batch's token rate times its number of texts; so profiles give the span path's rate.
        """
        rate = unseen / words * weight
        if self.tokens is None:
            self.tokens = {feature: [words, unseen, rate, weight]}
            return
        held = self.tokens.get(feature)
        if held is None:
            self.tokens[feature] = [words, unseen, rate, weight]
            return
        held[0] += words
        held[1] += unseen
        held[2] += rate
        held[3] += weight

    def add(self, check: str, feature: str, count: int = 1) -> None:
        if count <= 0:
            return
        if len(feature) > semconv.MAX_NAME_LENGTH:
            feature = semconv.bounded_name(feature)  # a value: bounded like the attribute keys
        self.counts[check] = self.counts.get(check, 0) + count
        names = self.features.setdefault(check, [])
        if len(names) < semconv.MAX_FEATURES and feature not in names:
            names.append(feature)

    def write(self, attributes: dict[str, Any]) -> list[tuple[str, str]]:
        """Put the counts on ``attributes``; return (check, feature) pairs for span events."""
        events: list[tuple[str, str]] = []
        for check, count in self.counts.items():
            attributes[semconv.quality_count(check)] = count
            attributes[semconv.quality_features(check)] = list(self.features[check])
            for feature in self.features[check]:
                if len(events) < MAX_QUALITY_EVENTS:
                    events.append((check, feature))
        return events


def row_attributes(
    values: Mapping[str, Any],
    baseline: Baseline | None,
    policy: Mapping[str, str],
    attributes: dict[str, Any],
    quality: Quality,
) -> None:
    """Each feature's value as ``ml.feature.<name>`` (redacted as asked), checked on the way."""
    profiles = baseline.features if baseline is not None else None
    plain = not profiles and not policy
    key_of, isfinite, keys = semconv.feature_value, math.isfinite, _KEYS
    for name, value in values.items():
        if type(name) is not str:
            name = _profile.safe_name(name)
        if plain and type(value) is float:  # the common case, kept cheap (benchmarks/overhead.py)
            if isfinite(value):
                key = keys.get(name)
                if key is None:
                    key = key_of(name)
                    if len(keys) < _MAX_KEYS and len(name) <= _MAX_KEY_NAME:
                        keys[name] = key
                attributes[key] = value
            else:
                quality.add(semconv.CHECK_NAN, name)
            continue
        try:
            _feature(name, value, profiles.get(name) if profiles else None, policy, attributes,
                     quality)
        except Exception:  # a value whose __float__/__str__ raises: one type-change finding
            quality.add(semconv.CHECK_TYPE_CHANGE, name)
    if profiles:
        for name in profiles.keys() - values.keys():
            quality.add(semconv.CHECK_NULL, name)  # a feature the call left out


def _feature(
    name: str,
    value: Any,
    profile: FeatureProfile | None,
    policy: Mapping[str, str],
    attributes: dict[str, Any],
    quality: Quality,
) -> None:
    if policy and name in policy:
        _redacted(name, value, policy[name], attributes, quality)
    elif type(value) in _NUMBER_TYPES or _profile.is_number(value):
        _number(name, value, profile, attributes, quality)
    elif isinstance(value, str):
        _string(name, value, profile, attributes, quality)
    elif _profile.is_null(value):
        quality.add(semconv.CHECK_NULL, name)
    else:  # a list, a dict, an object: not a feature value any schema allows
        quality.add(semconv.CHECK_TYPE_CHANGE, name)


def _number(
    name: str,
    value: Any,
    profile: FeatureProfile | None,
    attributes: dict[str, Any],
    quality: Quality,
) -> None:
    number = _profile.to_float(value)
    if not math.isfinite(number):
        quality.add(semconv.CHECK_NAN, name)  # JSON cannot carry it: count it, store nothing
        return
    if profile is not None and profile.kind != "numeric":
        if profile.kind == "text":
            quality.add(semconv.CHECK_TYPE_CHANGE, name)
            return
        # A code of a categorical feature: its canonical text, as the baseline holds it.
        _category(name, semconv.category_value(value) or "", profile, attributes, quality)
        return
    attributes[semconv.feature_value(name)] = number
    if profile is not None and profile.min is not None and profile.max is not None and (
        number < profile.min or number > profile.max
    ):
        quality.add(semconv.CHECK_OUT_OF_RANGE, name)


def _string(
    name: str,
    text: str,
    profile: FeatureProfile | None,
    attributes: dict[str, Any],
    quality: Quality,
) -> None:
    if profile is None or profile.kind == "categorical":
        _category(name, text, profile, attributes, quality)
    elif profile.kind == "text":
        words = _profile.tokens(text)
        attributes[semconv.text_length(name)] = len(text)
        if words and profile.vocabulary:
            unseen = sum(1 for word in words if word not in profile.known)
            attributes[semconv.text_oov_rate(name)] = (
                unseen / len(words)
            )
            quality.add_tokens(name, len(words), unseen, 1)
            if unseen:
                quality.add(semconv.CHECK_UNSEEN_CATEGORY, name)
    else:
        quality.add(semconv.CHECK_TYPE_CHANGE, name)  # a number that arrived as a string


def _category(
    name: str,
    text: str,
    profile: FeatureProfile | None,
    attributes: dict[str, Any],
    quality: Quality,
) -> None:
    attributes[semconv.feature_value(name)] = text[: semconv.MAX_STRING_LENGTH]
    if profile is not None and profile.is_unseen(text):
        quality.add(semconv.CHECK_UNSEEN_CATEGORY, name)


def _redacted(
    name: str, value: Any, action: str, attributes: dict[str, Any], quality: Quality
) -> None:
    # The monitor hashed the value already (``_redaction.redact_shaped``); hashing is idempotent.
    if _profile.is_null(value):
        quality.add(semconv.CHECK_NULL, name)
    elif action == "hash":
        attributes[semconv.feature_value(name)] = str(_redaction.hash_value(value))
