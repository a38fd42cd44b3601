"""New-category rate: the share of current values in categories the reference never saw.

A category counts as new when its reference count is 0 or absent, including ``"__other__"`` when the
reference put nothing there (the baseline then knew every category). The score is the rate's excess
over the reference's ``expected_new`` share (a sample of the same distribution also brings categories
the reference happened not to see: about its share of singletons), so unchanged high-cardinality
traffic scores about 0. No p-value (with any reference count of 0 the rate is not a sampling
estimate of a difference).
"""

from __future__ import annotations

from modelspan.analyzer.drift._core import Categories, Measure, Sample, register


@register("new_category_rate", ("categorical",), 0.01, inputs=(Categories,))
def new_category_rate(reference: Sample, current: Sample) -> Measure:
    """Drifted when at least 1% more of current values fall in new categories than expected.

    >>> from modelspan.analyzer.drift import Categories
    >>> new_category_rate(Categories({"a": 10}), Categories({"a": 9, "z": 1})).score
    0.1
    """
    assert isinstance(reference, Categories) and isinstance(current, Categories)
    total = current.total
    if total <= 0:
        return Measure(0.0)
    new = sum(count for key, count in current.counts.items() if reference.counts.get(key, 0) <= 0)
    return Measure(max(0.0, float(new) / total - reference.expected_new))
