"""Out-of-vocabulary rate of text: how much the current OOV token rate rose over the reference's.

The score is ``current.rate - reference.rate`` (a fall is not drift). The rates are means of per-row
token rates, not proportions of independent trials, so no p-value is given.
"""

from __future__ import annotations

from modelspan.analyzer.drift._core import Measure, Rate, Sample, register


@register("oov_rate", ("text",), 0.05, inputs=(Rate,))
def oov_rate(reference: Sample, current: Sample) -> Measure:
    """Drifted when the OOV rate rose by at least 5 percentage points.

    >>> oov_rate(Rate(0.02, 500), Rate(0.52, 500)).score
    0.5
    """
    assert isinstance(reference, Rate) and isinstance(current, Rate)
    return Measure(float(current.rate) - float(reference.rate))
