"""The instrumentation: what runs inside the user's inference call.

Decorators (``monitor``, ``module``), reading inputs and outputs, feature summaries and data-quality
checks, redaction, raw capture, and ``configure()``, which wires spans to an exporter. Everything
here imports with only ``opentelemetry-api`` and numpy; the OpenTelemetry SDK and exporters are
loaded by ``configure()`` at run time. The public names are re-exported by ``modelspan``.
"""
