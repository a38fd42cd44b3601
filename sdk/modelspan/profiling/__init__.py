"""Profiling data: what the baseline and the instrumentation both build on.

Reading a model's input as one row or a batch of columns (``_inputs``), profiling a column (kinds,
quantile bin edges, bin and category counts, samples: ``_profile``) and recording the calls of a
capture (``_capture``). ``modelspan.baseline`` turns these into a :class:`~modelspan.Baseline`;
``modelspan.instrumentation`` reads every call with them. This package sits below both and imports
neither (docs/architecture.md, the layers); like the instrumentation it needs only numpy.
"""
