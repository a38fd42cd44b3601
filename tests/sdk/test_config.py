"""configure(): exporter choice, never replacing the app's provider, idempotence, shutdown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import modelspan
from modelspan import semconv
from modelspan.instrumentation import _config, _exporters


class CountingExporter(SpanExporter):
    """An exporter of our own, to test selection without the real exporters."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []
        self.shut = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.shut += 1


def _run(code: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MODELSPAN_", "ELASTICSEARCH_"))}
    full_env.update(env or {})
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=full_env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_idempotent_configure_adds_one_processor_and_exports_once() -> None:
    provider = TracerProvider()
    exporter = CountingExporter()
    try:
        for _ in range(3):
            modelspan.configure(tracer_provider=provider, exporter=exporter)

        @modelspan.monitor(model="m")
        def predict(row: dict[str, Any]) -> int:
            return 1

        predict({"x": 1.0})
        modelspan.force_flush()
        assert len(exporter.spans) == 1
        assert len(provider._active_span_processor._span_processors) == 1
    finally:
        modelspan.shutdown()
        provider.shutdown()


def test_reconfigure_swaps_exporters_and_shutdown_flushes() -> None:
    provider = TracerProvider()
    first, second = CountingExporter(), CountingExporter()
    try:
        modelspan.configure(tracer_provider=provider, exporter=first)
        modelspan.configure(tracer_provider=provider, exporter=second)
        assert first.shut == 1

        @modelspan.monitor(model="m")
        def predict(row: dict[str, Any]) -> int:
            return 1

        predict({"x": 1.0})
        modelspan.shutdown()  # flushes the batch processor before stopping
        assert (len(first.spans), len(second.spans), second.shut) == (0, 1, 1)
        modelspan.shutdown()  # twice is harmless
        modelspan.configure(tracer_provider=provider, exporter=first)  # attach again after shutdown
        predict({"x": 1.0})
        modelspan.force_flush()
        assert len(first.spans) == 1
        assert len(provider._active_span_processor._span_processors) == 1  # refilled, not stacked
    finally:
        modelspan.shutdown()
        provider.shutdown()


def test_existing_global_sdk_provider_is_kept_and_extended() -> None:
    result = _run("""
        import json
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        import modelspan
        app_exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(app_exporter))
        trace.set_tracer_provider(provider)
        ours = InMemorySpanExporter()
        modelspan.configure(service_name="ignored", exporter=ours)
        @modelspan.monitor(model="m")
        def predict(row):
            return 1
        with trace.get_tracer("app").start_as_current_span("GET /predict"):
            predict({"x": 1.0})
        modelspan.shutdown()
        print(json.dumps({
            "same": trace.get_tracer_provider() is provider,
            "app": sorted(s.name for s in app_exporter.get_finished_spans()),
            "ours": sorted(s.name for s in ours.get_finished_spans()),
        }))
    """)
    assert result["same"] is True
    assert result["app"] == ["GET /predict", "predict m"]  # the app still sees everything
    assert result["ours"] == ["GET /predict", "predict m"]  # same trace, app span routed by the exporter


def test_no_provider_creates_one_with_resource_from_args_and_env() -> None:
    result = _run("""
        import json
        from opentelemetry import trace
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        import modelspan
        exporter = InMemorySpanExporter()
        modelspan.configure(service_name="checkout", environment="Prod-EU", exporter=exporter)
        @modelspan.monitor(model="m")
        def predict(row):
            return 1
        predict({"x": 1.0})
        modelspan.shutdown()
        (span,) = exporter.get_finished_spans()
        print(json.dumps({"resource": dict(span.resource.attributes), "attributes": dict(span.attributes),
                          "global": type(trace.get_tracer_provider()).__module__}))
    """, env={"OTEL_RESOURCE_ATTRIBUTES": "team=ml"})
    resource = result["resource"]
    assert resource["service.name"] == "checkout"
    assert resource["deployment.environment"] == "Prod-EU"
    assert resource["team"] == "ml"
    assert result["attributes"][semconv.DATA_STREAM_NAMESPACE] == "prod_eu"
    assert result["global"].startswith("opentelemetry.sdk")


def test_service_name_and_environment_from_env() -> None:
    result = _run("""
        import json
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        import modelspan
        exporter = InMemorySpanExporter()
        modelspan.configure(exporter=exporter)
        modelspan.monitor(model="m")(lambda row: 1)({"x": 1})
        modelspan.shutdown()
        (span,) = exporter.get_finished_spans()
        print(json.dumps(dict(span.resource.attributes)))
    """, env={"OTEL_SERVICE_NAME": "svc", "MODELSPAN_ENVIRONMENT": "staging"})
    assert result["service.name"] == "svc" and result["deployment.environment"] == "staging"


def test_otel_traces_exporter_env_is_not_doubled_on_an_app_provider() -> None:
    result = _run("""
        import json
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        import modelspan
        from modelspan.instrumentation import _config
        trace.set_tracer_provider(TracerProvider())
        modelspan.configure()
        print(json.dumps({"inner": len(_config.STATE.processor._inner)}))
        modelspan.shutdown()
    """, env={"OTEL_TRACES_EXPORTER": "console"})
    assert result["inner"] == 0


def test_resolve_order(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MODELSPAN_EXPORTER", "OTEL_TRACES_EXPORTER", "ELASTICSEARCH_URL", "ELASTICSEARCH_CLOUD_ID"):
        monkeypatch.delenv(name, raising=False)
    assert _exporters.resolve(None).names == ("sqlite",)
    monkeypatch.setenv("ELASTICSEARCH_URL", "http://127.0.0.1:9200")
    assert _exporters.resolve(None).names == ("elasticsearch",)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp, console")
    assert _exporters.resolve(None).names == ("otlp", "console")
    monkeypatch.setenv("MODELSPAN_EXPORTER", "none")
    assert _exporters.resolve(None).names == ("none",)
    assert _exporters.resolve("console").source == "argument"
    exporter = InMemorySpanExporter()
    assert _exporters.resolve(exporter).instance is exporter
    with pytest.raises(ValueError):
        _exporters.resolve(42)
    with pytest.raises(ValueError):
        _exporters.resolve(" , ")


def test_builds_console_otlp_none() -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    from modelspan.exporters import otlp

    built = _exporters.build(_exporters.ExporterChoice(("console", "otlp", "none")))
    assert [type(e) for e in built] == [ConsoleSpanExporter, otlp.OTLPSpanExporter]
    assert type(built[1].spans) is OTLPSpanExporter  # OpenTelemetry's, with the profiles beside it
    for exporter in built:
        exporter.shutdown()


def test_missing_exporter_module_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(_exporters._BUILTIN, "sqlite", ("modelspan.exporters.not_there", "X", "modelspan[sdk]"))
    with pytest.raises(ImportError, match=r"exporter 'sqlite' needs modelspan\.exporters\.not_there.*modelspan\[sdk\]"):
        _exporters.build(_exporters.ExporterChoice(("sqlite",)))
    with pytest.raises(ValueError, match="unknown exporter"):
        _exporters.build(_exporters.ExporterChoice(("carrier-pigeon",)))


def test_bad_arguments_raise_and_bad_env_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = TracerProvider()
    try:
        with pytest.raises(ValueError):
            modelspan.configure(tracer_provider=provider, exporter="none", sample_rate=2.0)
        with pytest.raises(ValueError):
            modelspan.configure(tracer_provider=provider, exporter="none", redact={"x": "blur"})
        monkeypatch.setenv("MODELSPAN_SAMPLE_RATE", "lots")
        modelspan.configure(tracer_provider=provider, exporter="none")
        assert _config.STATE.sample_rate == 1.0
        monkeypatch.setenv("MODELSPAN_SAMPLE_RATE", "0.25")
        monkeypatch.setenv("MODELSPAN_REDACT", "email:drop")
        modelspan.configure(tracer_provider=provider, exporter="none")
        assert (_config.STATE.sample_rate, _config.STATE.redaction) == (0.25, {"email": "drop"})
        monkeypatch.setenv("MODELSPAN_REDACT", "email:blur")
        with pytest.raises(ValueError, match="MODELSPAN_REDACT"):
            modelspan.configure(tracer_provider=provider, exporter="none")
    finally:
        modelspan.shutdown()
        provider.shutdown()
        _config.STATE.sample_rate = 1.0
        _config.STATE.redaction = {}


def test_disabled_by_env(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = TracerProvider()
    monkeypatch.setenv("MODELSPAN_DISABLED", "true")
    try:
        modelspan.configure(tracer_provider=provider, exporter="none")
        assert _config.STATE.enabled is False
        monkeypatch.delenv("MODELSPAN_DISABLED")
        modelspan.configure(tracer_provider=provider, exporter="none")
        assert _config.STATE.enabled is True
    finally:
        modelspan.shutdown()
        provider.shutdown()
        _config.STATE.enabled = True


def test_non_sdk_provider_is_used_as_is() -> None:
    from opentelemetry.trace import NoOpTracerProvider

    try:
        modelspan.configure(tracer_provider=NoOpTracerProvider(), exporter="console")
        assert modelspan.monitor(model="m")(lambda row: 5)({"x": 1}) == 5
    finally:
        modelspan.shutdown()


def test_baselines_registered_by_model_version(tmp_path: Any) -> None:
    baseline = modelspan.Baseline.from_data({"x": [1.0, 2.0, 3.0]}, model="m", version="1")
    path = tmp_path / "b.json"
    baseline.save(path)
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    try:
        modelspan.configure(tracer_provider=provider, exporter=exporter, baselines=[str(path)])

        @modelspan.monitor(model="m", version="1")
        def predict(row: dict[str, Any]) -> int:
            return 1

        predict({"x": 9.0})
        modelspan.force_flush()
        (span,) = exporter.get_finished_spans()
        attributes = dict(span.attributes or {})
        assert attributes[semconv.BASELINE_ID] == baseline.id
        assert attributes[semconv.quality_count(semconv.CHECK_OUT_OF_RANGE)] == 1
    finally:
        modelspan.shutdown()
        provider.shutdown()
        _config.STATE.baselines.clear()


def test_default_exporter_is_the_sqlite_store(tmp_path: Any) -> None:
    store = tmp_path / "spans.db"
    result = _run("""
        import json, os, sqlite3
        import modelspan
        modelspan.configure(service_name="svc")
        modelspan.monitor(model="m", version="1")(lambda row: 0.5)({"x": 1.0})
        modelspan.shutdown()
        rows = sqlite3.connect(os.environ["MODELSPAN_STORE"]).execute(
            "SELECT model_name, prediction_id FROM spans WHERE model_name IS NOT NULL").fetchall()
        print(json.dumps({"rows": rows, "id": modelspan.last_prediction().id}))
    """, env={"MODELSPAN_STORE": str(store)})
    assert result["rows"] == [["m", result["id"]]]


def test_record_outcome_forwards_to_the_store_module(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    calls: list[tuple[Any, ...]] = []
    stand_in = types.ModuleType("modelspan.outcomes")
    stand_in.record_outcome = lambda *a, **k: calls.append(("one", a, k)) or "ok"  # type: ignore[attr-defined]
    stand_in.record_outcomes = lambda *a, **k: calls.append(("many", a, k)) or 2  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "modelspan.outcomes", stand_in)
    assert modelspan.record_outcome("abc:1", 1, timestamp=5.0) == "ok"
    assert modelspan.record_outcomes([("abc:0", 0)]) == 2
    assert calls == [("one", ("abc:1", 1), {"timestamp": 5.0, "store": None}),
                     ("many", ([("abc:0", 0)],), {"store": None})]
