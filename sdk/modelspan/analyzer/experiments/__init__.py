"""Statistics of champion/challenger, A/B and shadow experiments (``docs/experiments.md``).

Pure functions over mergeable per-arm statistics, shared by both store backends:

* :mod:`.sequential` -- always-valid intervals and p-values, mSPRT (Johari, Pekelis and Walsh 2017);
* :mod:`.srm` -- the sample-ratio-mismatch check that gates every verdict;
* :mod:`.verdict` -- SRM, then effects, then Benjamini-Hochberg across metrics x arms;
* :mod:`.paired` -- prediction churn between versions and McNemar's test on paired correctness.
"""

from __future__ import annotations

from modelspan.analyzer.experiments.paired import Churn, McNemar, churn, mcnemar, paired_correctness
from modelspan.analyzer.experiments.sequential import Design, Sequential, msprt, naive_z_test, running
from modelspan.analyzer.experiments.srm import SampleRatio, sample_ratio_mismatch
from modelspan.analyzer.experiments.verdict import Effect, Moments, Verdict, evaluate

__all__ = [
    "Churn",
    "Design",
    "Effect",
    "McNemar",
    "Moments",
    "SampleRatio",
    "Sequential",
    "Verdict",
    "churn",
    "evaluate",
    "mcnemar",
    "msprt",
    "naive_z_test",
    "paired_correctness",
    "running",
    "sample_ratio_mismatch",
]
