"""The latency histogram of profiles (docs/profiles.md): log buckets with a 1 % relative error bound.

DDSketch-style: relative accuracy ``ALPHA`` = 0.01, ``GAMMA = (1 + ALPHA) / (1 - ALPHA)``. A value
``x >= 1`` (nanoseconds) goes to bucket ``ceil(log(x) / log(GAMMA))``; bucket ``i`` holds the values in
``(GAMMA**(i-1), GAMMA**i]`` and stands for ``2 * GAMMA**i / (GAMMA + 1)``, which is within ``ALPHA``
of each of them. Histograms merge by adding counts per bucket, so a sum of profiles (processes,
intervals) keeps the bound; a quantile is the stand-in of the bucket holding its rank.
"""

from __future__ import annotations

import math
from typing import Final

ALPHA: Final = 0.01
GAMMA: Final = (1 + ALPHA) / (1 - ALPHA)
LOG_GAMMA: Final = math.log(GAMMA)


def bucket_of(value: float) -> int:
    """The bucket of a value of at least 1.

    >>> bucket_value(bucket_of(1000.0)) / 1000.0 - 1 <= ALPHA
    True
    """
    return math.ceil(math.log(value) / LOG_GAMMA)


def bucket_value(index: int) -> float:
    """The value bucket ``index`` stands for: within ``ALPHA`` of every value in it."""
    return 2.0 * GAMMA**index / (GAMMA + 1.0)


def quantile(buckets: dict[int, int], zeros: int, q: float) -> float | None:
    """The ``q`` quantile (0..1) of a histogram (the value at rank ``floor(q * (n - 1))``); ``None`` when empty.

    >>> quantile({bucket_of(10.0): 3}, 1, 0.0), round(quantile({bucket_of(10.0): 3}, 1, 1.0), 1)
    (0.0, 10.0)
    """
    total = zeros + sum(buckets.values())
    if total == 0:
        return None
    rank = q * (total - 1)
    if rank < zeros:
        return 0.0
    seen = zeros
    for index in sorted(buckets):
        seen += buckets[index]
        if seen > rank:
            return bucket_value(index)
    return bucket_value(max(buckets))
