"""``modelspan.configure()``: where spans go, sampling, privacy, baselines; and ``shutdown()``.

Every setting comes from the argument, else an environment variable, else a default. A bad
argument raises ``ValueError``; a bad environment value is logged and the default is used.

=============================  ==========================================================
environment variable           meaning
=============================  ==========================================================
``MODELSPAN_DISABLED``         ``true``: decorators call straight through (also
                               ``OTEL_SDK_DISABLED``)
``MODELSPAN_EXPORTER``         exporter names (beats ``OTEL_TRACES_EXPORTER``)
``OTEL_TRACES_EXPORTER``       ``sqlite``, ``elasticsearch``, ``otlp``, ``console``, ``none``
``OTEL_SERVICE_NAME``          service name of the provider modelspan creates
``MODELSPAN_ENVIRONMENT``      deployment environment (else ``deployment.environment`` in
                               ``OTEL_RESOURCE_ATTRIBUTES``); also the data stream namespace
``MODELSPAN_SAMPLE_RATE``      probability of recording a call, ``0 < rate <= 1``
``MODELSPAN_CAPTURE_INPUTS``   ``true``: put the (redacted) raw input on the span
``MODELSPAN_REDACT``           ``feature:drop|hash`` pairs, comma-separated
``MODELSPAN_HASH_KEY``         secret key of ``hash`` redaction (HMAC-SHA-256), >= 16 bytes
``MODELSPAN_ALLOW_UNKEYED_HASH`` ``true``: ``hash`` without a key (plain SHA-256, reversible
                               by brute force for small value spaces)
``MODELSPAN_EXCEPTION_MESSAGES`` ``false``: record exception types and stack traces only
``MODELSPAN_BASELINES``        baseline JSON files, separated by ``os.pathsep``
``MODELSPAN_STORE``            SQLite store path (read by the SQLite exporter)
=============================  ==========================================================
"""

from __future__ import annotations

import logging
import os
import re
import threading
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry import trace

from modelspan._version import __version__
from modelspan.instrumentation import _exporters, _redaction

if TYPE_CHECKING:
    from modelspan.baseline import Baseline

logger = logging.getLogger("modelspan")

TRACER_NAME = "modelspan"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")
# Our provider's span attribute limit (OTel's default of 128 is too small for batch summaries;
# an explicit OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT still wins). See docs/semantic-conventions.md.
DEFAULT_ATTRIBUTE_LIMIT = 2048


@dataclass
class State:
    """What the decorators read on every call; replaced field by field under ``_lock``."""

    enabled: bool = True
    tracer: trace.Tracer = field(default_factory=lambda: trace.get_tracer(TRACER_NAME))
    sample_rate: float = 1.0
    capture_inputs: bool = False
    redaction: dict[str, _redaction.Action] = field(default_factory=dict)
    exception_messages: bool = True
    """Scrubbed exception messages on spans (``False``: the exception type only)."""
    privacy_configured: bool = False
    """Redaction settings were read (by ``configure()`` or, before it, by the first ``monitor()``)."""
    namespace: str | None = None
    baselines: dict[tuple[str, str], Baseline] = field(default_factory=dict)
    decorator_baselines: dict[str, Baseline] = field(default_factory=dict)
    """Baselines given to ``monitor(baseline=...)``, by id, so exporters can bin by the span's baseline id."""
    provider: Any = None  # the SDK TracerProvider we attached to
    processor: Any = None  # our ModelspanSpanProcessor on it
    owns_provider: bool = False
    attribute_limit: int = 128  # the provider's span attribute limit (OTel's default if unknown)


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    if value.strip().lower() in _TRUE:
        return True
    if value.strip().lower() in _FALSE:
        return False
    logger.warning("modelspan: ignoring %s=%r (expected true/false)", name, value)
    return default


def _disabled_by_env() -> bool:
    return _env_bool("MODELSPAN_DISABLED", False) or _env_bool("OTEL_SDK_DISABLED", False)


STATE = State(enabled=not _disabled_by_env())
_lock = threading.RLock()
_processors: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_created: list[Any] = []  # providers modelspan created (the API lets us set a global only once)


def _sample_rate(argument: float | None) -> float:
    if argument is not None:
        if not 0.0 < float(argument) <= 1.0:
            raise ValueError(f"sample_rate must be in (0, 1], got {argument!r}")
        return float(argument)
    value = os.environ.get("MODELSPAN_SAMPLE_RATE")
    if value:
        try:
            rate = float(value)
            if 0.0 < rate <= 1.0:
                return rate
        except ValueError:
            pass
        logger.warning("modelspan: ignoring MODELSPAN_SAMPLE_RATE=%r (want 0 < rate <= 1)", value)
    return 1.0


def _redaction_policy(argument: Mapping[str, str] | None) -> dict[str, _redaction.Action]:
    if argument is not None:
        return _redaction.check_policy(argument)
    try:
        return _redaction.parse_policy(os.environ.get("MODELSPAN_REDACT", ""))
    except ValueError as exc:
        # Failing open on a privacy setting would leak data: refuse loudly instead.
        raise ValueError(f"MODELSPAN_REDACT: {exc}") from exc


def _hash_key(argument: str | bytes | None) -> bytes | None:
    if argument is not None:
        return argument.encode("utf-8") if isinstance(argument, str) else bytes(argument)
    value = os.environ.get("MODELSPAN_HASH_KEY")
    return value.encode("utf-8") if value else None


def privacy_from_env() -> None:
    """Before any ``configure()``: the environment's redaction settings apply to decorated models.

    Called by ``monitor()``, so a bad ``MODELSPAN_REDACT`` or a ``hash`` policy without a key is a
    ``ValueError`` at decoration time, and spans sent through an application's own provider
    (``opentelemetry-instrument``) are redacted although modelspan was never configured.
    """
    if STATE.privacy_configured:
        return
    policy = _redaction_policy(None)
    key = _hash_key(None)
    _redaction.check_key(policy, key, _env_bool("MODELSPAN_ALLOW_UNKEYED_HASH", False))
    with _lock:
        if STATE.privacy_configured:
            return
        STATE.redaction = policy
        STATE.privacy_configured = True
        _redaction.set_key(key)
        STATE.exception_messages = _env_bool("MODELSPAN_EXCEPTION_MESSAGES", True)
        STATE.privacy_configured = True


def _environment(argument: str | None) -> str | None:
    if argument:
        return argument
    if os.environ.get("MODELSPAN_ENVIRONMENT"):
        return os.environ["MODELSPAN_ENVIRONMENT"]
    for pair in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
        key, _, value = pair.partition("=")
        if key.strip() in ("deployment.environment", "deployment.environment.name"):
            return value.strip() or None
    return None


def data_stream_namespace(environment: str) -> str:
    """Environment name made valid as an Elasticsearch data stream namespace.

    >>> data_stream_namespace("Prod-EU 1")
    'prod_eu_1'
    """
    return re.sub(r"[^a-z0-9_.]", "_", environment.lower())[:100] or "default"


def configure(
    *,
    service_name: str | None = None,
    environment: str | None = None,
    exporter: object = None,
    tracer_provider: Any = None,
    enabled: bool | None = None,
    sample_rate: float | None = None,
    capture_inputs: bool | None = None,
    redact: Mapping[str, str] | None = None,
    baselines: Iterable[Baseline | str | os.PathLike[str]] | None = None,
    store: str | None = None,
    hash_key: str | bytes | None = None,
    allow_unkeyed_hash: bool | None = None,
    exception_messages: bool | None = None,
) -> None:
    """Set up modelspan; safe to call again (it reconfigures, never stacks processors).

    Calling it again with another exporter or another target (``store=``, or the environment
    variables naming the Elasticsearch URL or OTLP endpoint) flushes and replaces the exporters;
    the same exporters writing to the same place are kept.

    If the application already installed an OpenTelemetry SDK ``TracerProvider`` (globally, or
    passed as ``tracer_provider=``), modelspan adds its span processor to it and never replaces
    or resets it. Otherwise it creates one with ``service.name`` and ``deployment.environment``
    and installs it globally, so application spans land in the same traces.

    >>> import modelspan
    >>> modelspan.configure(service_name="checkout", exporter="none")
    >>> modelspan.shutdown()
    """
    rate = _sample_rate(sample_rate)
    policy = _redaction_policy(redact)
    key = _hash_key(hash_key)
    unkeyed = (_env_bool("MODELSPAN_ALLOW_UNKEYED_HASH", False) if allow_unkeyed_hash is None
               else bool(allow_unkeyed_hash))
    _redaction.check_key(policy, key, unkeyed)  # a ValueError here, never in an inference call
    loaded = [_load_baseline(item) for item in baselines or ()]
    loaded += [_load_baseline(path) for path in _env_paths("MODELSPAN_BASELINES")]
    env_name = _environment(environment)
    with _lock:
        STATE.enabled = (not _disabled_by_env()) if enabled is None else bool(enabled)
        STATE.sample_rate = rate
        STATE.capture_inputs = (
            _env_bool("MODELSPAN_CAPTURE_INPUTS", False)
            if capture_inputs is None
            else bool(capture_inputs)
        )
        STATE.redaction = policy
        STATE.privacy_configured = True
        _redaction.set_key(key)
        STATE.exception_messages = (
            _env_bool("MODELSPAN_EXCEPTION_MESSAGES", True)
            if exception_messages is None
            else bool(exception_messages)
        )
        STATE.namespace = data_stream_namespace(env_name) if env_name else None
        for baseline in loaded:
            STATE.baselines[(baseline.model, baseline.version)] = baseline
        if STATE.enabled:
            choice = _exporters.resolve(exporter, store)
            _attach(choice, tracer_provider, service_name, env_name, store)


def _env_paths(name: str) -> list[str]:
    return [path for path in os.environ.get(name, "").split(os.pathsep) if path.strip()]


def _load_baseline(item: Baseline | str | os.PathLike[str]) -> Baseline:
    from modelspan.baseline import Baseline

    if isinstance(item, Baseline):
        return item
    return Baseline.load(item)


def _attach(
    choice: _exporters.ExporterChoice,
    provider: Any,
    service_name: str | None,
    environment: str | None,
    store: str | None,
) -> None:
    """Find or create the SDK provider and put the chosen exporters into our processor."""
    existing = provider if provider is not None else trace.get_tracer_provider()
    sdk_provider = _sdk_provider_class()
    if sdk_provider is None or not isinstance(existing, sdk_provider):
        if sdk_provider is None and choice.names == ("none",):
            # Nothing to export and no SDK: follow whatever provider the application sets.
            STATE.tracer = existing.get_tracer(TRACER_NAME, __version__)
            return
        if _is_proxy(existing) and provider is None:
            if sdk_provider is None:
                raise ImportError(
                    "modelspan: exporting spans needs opentelemetry-sdk; install 'modelspan[sdk]' "
                    "or configure(exporter='none') with your own TracerProvider"
                )
            existing = _new_provider(service_name, environment)
            trace.set_tracer_provider(existing)
            _created.append(existing)
        else:
            logger.warning(
                "modelspan: the TracerProvider %r is not an OpenTelemetry SDK provider; "
                "spans go wherever it sends them",
                type(existing).__name__,
            )
            STATE.tracer = existing.get_tracer(TRACER_NAME, __version__)
            return
    STATE.owns_provider = any(existing is created for created in _created)
    if existing is not STATE.provider:
        _detach()
        STATE.processor = _processor_for(existing)
        STATE.provider = existing
    STATE.tracer = existing.get_tracer(TRACER_NAME, __version__)
    STATE.attribute_limit = _attribute_limit(existing)
    if STATE.processor.exporter_key == choice.key:
        return  # idempotent: same exporters already in place
    if choice.source == "OTEL_TRACES_EXPORTER" and not STATE.owns_provider:
        # The application's SDK already honours OTEL_TRACES_EXPORTER; adding the same exporter
        # again would send every span twice.
        STATE.processor.set_exporters([], choice.key)
        return
    STATE.processor.set_exporters(_exporters.build(choice, store), choice.key)


def _attribute_limit(provider: Any) -> int:
    # The SDK keeps its limits private; read them defensively, OTel's default otherwise.
    limit = getattr(getattr(provider, "_span_limits", None), "max_span_attributes", None)
    return limit if isinstance(limit, int) and limit > 0 else 128


def _processor_for(provider: Any) -> Any:
    """Our processor on ``provider``, added once per provider for the life of the process.

    A processor cannot be removed from an SDK provider, so after ``shutdown()`` (which empties
    it) a later ``configure()`` refills the same one instead of stacking another.
    """
    from modelspan.instrumentation._processor import ModelspanSpanProcessor

    processor = _processors.get(provider)
    if processor is None:
        processor = ModelspanSpanProcessor()
        provider.add_span_processor(processor)
        _processors[provider] = processor
    return processor


def _detach() -> None:
    if STATE.processor is not None:
        STATE.processor.shutdown()  # an SDK provider cannot drop it, but it is now empty
    STATE.processor = None
    STATE.provider = None


def _sdk_provider_class() -> Any:
    try:
        from opentelemetry.sdk.trace import TracerProvider
    except ImportError:
        return None
    return TracerProvider


def _is_proxy(provider: object) -> bool:
    # The API's placeholder before any provider is set; a NoOpTracerProvider is a choice.
    return type(provider) is trace.ProxyTracerProvider


def _new_provider(service_name: str | None, environment: str | None) -> Any:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import SpanLimits, TracerProvider

    attributes: dict[str, str] = {}
    if service_name:
        attributes["service.name"] = service_name
    if environment:
        attributes["deployment.environment"] = environment
        attributes["deployment.environment.name"] = environment
    limit = None if os.environ.get("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT") else DEFAULT_ATTRIBUTE_LIMIT
    return TracerProvider(
        resource=Resource.create(attributes), span_limits=SpanLimits(max_span_attributes=limit)
    )


def force_flush(timeout_millis: int = 30000) -> bool:
    """Export every finished span now; ``True`` when all exporters confirmed in time."""
    processor = STATE.processor
    return True if processor is None else bool(processor.force_flush(timeout_millis))


def shutdown() -> None:
    """Flush and stop modelspan's exporters; the TracerProvider itself is left running.

    The provider stays usable (the application may own it, and the API cannot replace a global
    provider), so a later ``configure()`` attaches again. Calling it twice is harmless.
    """
    with _lock:
        processor = STATE.processor
        STATE.processor = None
        STATE.provider = None
        STATE.owns_provider = False
        STATE.tracer = trace.get_tracer(TRACER_NAME)
        STATE.attribute_limit = 128
    if processor is not None:
        processor.force_flush()
        processor.shutdown()
