"""Choosing where spans go: the ``exporter=`` argument, ``OTEL_TRACES_EXPORTER`` or the default.

Order (argument, then environment, then default, as in opentelemetry-python):

1. ``configure(exporter=...)``: a name, a comma-separated list of names, or a ``SpanExporter``.
2. ``MODELSPAN_EXPORTER``, then ``OTEL_TRACES_EXPORTER`` (comma-separated names).
3. ``"elasticsearch"`` when ``ELASTICSEARCH_URL`` or ``ELASTICSEARCH_CLOUD_ID`` is set
   (``modelspan.elasticsearch.connection.is_configured``, the test every part of modelspan uses).
4. ``"sqlite"``: the embedded store (``MODELSPAN_STORE`` or ``./modelspan.db``).

Exporter modules are imported here, at configure time only, so that the instrumentation itself
imports with nothing but ``opentelemetry-api`` and numpy.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from modelspan.elasticsearch.connection import is_configured

ENV_EXPORTER = "MODELSPAN_EXPORTER"
ENV_OTEL_EXPORTER = "OTEL_TRACES_EXPORTER"
ENV_STORE = "MODELSPAN_STORE"
"""The SQLite store file when ``configure(store=...)`` does not name one (as the exporter reads it)."""
DEFAULT_STORE = "modelspan.db"

# name -> (module, class, extra that provides it)
_BUILTIN: dict[str, tuple[str, str, str]] = {
    "sqlite": ("modelspan.exporters.sqlite", "SQLiteSpanExporter", "modelspan[sdk]"),
    "modelspan_sqlite": ("modelspan.exporters.sqlite", "SQLiteSpanExporter", "modelspan[sdk]"),
    "elasticsearch": (
        "modelspan.exporters.elasticsearch",
        "ElasticsearchSpanExporter",
        "modelspan[elasticsearch]",
    ),
    "console": ("opentelemetry.sdk.trace.export", "ConsoleSpanExporter", "modelspan[sdk]"),
}
_NONE = "none"


@dataclass(frozen=True)
class ExporterChoice:
    """What ``configure()`` resolved: exporter names or one instance, and where that came from."""

    names: tuple[str, ...]
    instance: Any = None
    source: str = "default"  # "argument" | "MODELSPAN_EXPORTER" | "OTEL_TRACES_EXPORTER" | ...
    targets: tuple[object, ...] = ()
    """Where each named exporter writes (store file, URL, endpoint), as resolved at configure time."""

    @property
    def key(self) -> object:
        """Identity used to make ``configure()`` idempotent: the same exporters writing to the same
        places. A change of store, URL or endpoint is a new key, so the exporters are replaced."""
        if self.instance is not None:
            return ("instance", id(self.instance))
        return (self.names, self.targets)


# Environment variables that decide where each built-in exporter writes.
_TARGET_ENV: dict[str, tuple[str, ...]] = {
    "elasticsearch": ("ELASTICSEARCH_URL", "ELASTICSEARCH_CLOUD_ID"),
    "otlp": ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT",
             "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"),
}


def _targets(names: tuple[str, ...], store: str | os.PathLike[str] | None) -> tuple[object, ...]:
    targets: list[object] = []
    for name in names:
        if name in ("sqlite", "modelspan_sqlite"):
            path = store if store is not None else (os.environ.get(ENV_STORE) or DEFAULT_STORE)
            targets.append(os.path.abspath(os.fspath(path)))
        else:
            targets.append(tuple(os.environ.get(env, "") for env in _TARGET_ENV.get(name, ())))
    return tuple(targets)


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip().lower() for part in value.split(",") if part.strip())


def resolve(argument: object, store: str | os.PathLike[str] | None = None) -> ExporterChoice:
    """Resolve the exporter choice and where it writes; raises ``ValueError`` on a bad argument.

    >>> resolve("console").names
    ('console',)
    >>> resolve("sqlite", "a.db").key != resolve("sqlite", "b.db").key
    True
    """
    choice = _resolve(argument)
    if choice.instance is not None:
        return choice
    return ExporterChoice(choice.names, source=choice.source, targets=_targets(choice.names, store))


def _resolve(argument: object) -> ExporterChoice:
    if argument is not None:
        if isinstance(argument, str):
            names = _split(argument)
            if not names:
                raise ValueError("exporter= must name at least one exporter")
            return ExporterChoice(names, source="argument")
        if callable(getattr(argument, "export", None)):
            return ExporterChoice((), instance=argument, source="argument")
        raise ValueError(f"exporter= must be a name or a SpanExporter, got {argument!r}")
    for env in (ENV_EXPORTER, ENV_OTEL_EXPORTER):
        value = os.environ.get(env, "")
        if _split(value):
            return ExporterChoice(_split(value), source=env)
    if is_configured():
        return ExporterChoice(("elasticsearch",), source="ELASTICSEARCH_URL")
    return ExporterChoice(("sqlite",), source="default")


def build(choice: ExporterChoice, store: str | None = None) -> list[Any]:
    """Instantiate the chosen exporters (``"none"`` gives none).

    A missing exporter module is an ``ImportError`` saying which extra to install.
    """
    if choice.instance is not None:
        return [choice.instance]
    return [_build_one(name, store) for name in choice.names if name != _NONE]


def _build_one(name: str, store: str | None) -> Any:
    if name == "otlp":
        return _otlp()
    if name in _BUILTIN:
        module_name, class_name, extra = _BUILTIN[name]
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ImportError(
                f"modelspan: exporter {name!r} needs {module_name}, which cannot be imported "
                f"({exc}); install {extra!r}"
            ) from exc
        cls = getattr(module, class_name)
        if name in ("sqlite", "modelspan_sqlite"):
            return cls(path=store)
        return cls()
    # Any other name: an exporter registered the OpenTelemetry way (entry point).
    for entry in entry_points(group="opentelemetry_traces_exporter", name=name):
        return entry.load()()
    raise ValueError(
        f"modelspan: unknown exporter {name!r}; use sqlite, elasticsearch, otlp, console, none "
        "or an installed opentelemetry_traces_exporter entry point"
    )


def _otlp() -> Any:
    protocol = os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "")
    ).strip()
    module_name = (
        "opentelemetry.exporter.otlp.proto.grpc.trace_exporter"
        if protocol == "grpc"
        else "opentelemetry.exporter.otlp.proto.http.trace_exporter"
    )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(
            f"modelspan: exporter 'otlp' needs {module_name} ({exc}); install 'modelspan[sdk]'"
        ) from exc
    # by name, like the other exporters: modelspan.exporters.otlp adds the profiles (OTLP metrics)
    wrapper = importlib.import_module("modelspan.exporters.otlp")
    return wrapper.OTLPSpanExporter(module.OTLPSpanExporter())
