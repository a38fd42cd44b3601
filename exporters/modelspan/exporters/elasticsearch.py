"""Ship spans straight to Elasticsearch, in the document shape the OTel Collector writes.

``ElasticsearchSpanExporter`` is an OpenTelemetry ``SpanExporter``: put it behind a
``BatchSpanProcessor`` (``modelspan.configure`` does) so the inference thread never waits on the
network, and ``export()`` itself only encodes and hands the batch to the exporter's sender thread
(or to the spool), so a cluster that hangs cannot stall the processor into dropping spans. Each
batch is one gzip ``_bulk`` request of ``create`` actions into
``traces-<dataset>.otel-<namespace>`` (model spans: ``traces-modelspan.otel-<ns>``; every other
span of the provider too, as the collector would), with document ids derived from trace and span
ids so a retry or a replay can never store a span twice (409 counts as stored). Profiles (the exact
statistics of every call, docs/profiles.md) take the same path into
``metrics-modelspan.profile-<namespace>`` (``export_profiles``).

Nothing is lost silently: throttling and unavailability are retried with jittered backoff against
the export deadline; while Elasticsearch is unreachable, batches go to a bounded on-disk spool that
a background thread replays when it answers again (also after a restart); documents that can never
be stored go to a dead-letter file with the reason; and every outcome is counted (``stats()`` and
``modelspan.exporter.*`` metrics). ``export()`` never raises.

Example (``modelspan.configure(exporter="elasticsearch")`` does the same from the environment)::

    provider.add_span_processor(BatchSpanProcessor(ElasticsearchSpanExporter("https://es:9200", api_key=key)))
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from modelspan.elasticsearch import layout
from modelspan.elasticsearch.connection import resolve_settings
from modelspan.exporters import _bulk, _fork
from modelspan.exporters._counters import Counters
from modelspan.exporters._deadletter import DeadLetters
from modelspan.exporters._delivery import Delivery
from modelspan.exporters._profiles import encode_profiles, process_token
from modelspan.exporters._retry import Backoff
from modelspan.exporters._sender import Sender
from modelspan.exporters._spool import Spool
from modelspan.exporters._transport import Transport
from modelspan.instrumentation._processor import count_lost

__all__ = ["ElasticsearchSpanExporter"]

_log = logging.getLogger("modelspan.exporters")

ENV_SPOOL_DIR: Final = "MODELSPAN_SPOOL_DIR"
ENV_SPOOL_MAX_BYTES: Final = "MODELSPAN_SPOOL_MAX_BYTES"
ENV_DEAD_LETTER: Final = "MODELSPAN_DEAD_LETTER_PATH"
ENV_TIMEOUT: Final = "MODELSPAN_EXPORT_TIMEOUT"
ENV_DYNAMIC_ID: Final = "MODELSPAN_TRACES_DYNAMIC_ID"
"""``true``: a document's ``elasticsearch.document_id`` attribute is its ``_id`` (the Collector's
``traces_dynamic_id``); otherwise ``_id`` is trace id + span id (idempotent replays)."""
_DEFAULT_TIMEOUT_S: Final = 10.0
_DEFAULT_SPOOL_MAX_BYTES: Final = 256 * 1024 * 1024
_DEFAULT_DEAD_LETTER_MAX_BYTES: Final = 64 * 1024 * 1024
_DEFAULT_MAX_BULK_BYTES: Final = 5 * 1024 * 1024


class ElasticsearchSpanExporter(SpanExporter):
    """Bulk-create span documents in Elasticsearch; spool while it is down; never raise.

    Every argument falls back to the environment, then to a default, so the no-argument form used by
    ``OTEL_TRACES_EXPORTER=elasticsearch`` works: the connection ones (``url``, ``cloud_id``,
    ``api_key``, ``username``/``password``, ``ca_certs``, ``verify_certs``, ``headers``) as
    :mod:`modelspan.elasticsearch.connection` reads them for every part of modelspan, the others
    from ``MODELSPAN_SPOOL_DIR``, ``MODELSPAN_SPOOL_MAX_BYTES``, ``MODELSPAN_DEAD_LETTER_PATH`` and
    ``MODELSPAN_EXPORT_TIMEOUT`` and ``MODELSPAN_TRACES_DYNAMIC_ID``. A bad argument raises ``ValueError``.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        api_key: str | tuple[str, str] | None = None,
        username: str | None = None,
        password: str | None = None,
        cloud_id: str | None = None,
        ca_certs: str | None = None,
        verify_certs: bool | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        spool_dir: str | os.PathLike[str] | None = None,
        spool_max_bytes: int | None = None,
        dead_letter_path: str | os.PathLike[str] | None = None,
        dead_letter_max_bytes: int = _DEFAULT_DEAD_LETTER_MAX_BYTES,
        max_bulk_bytes: int = _DEFAULT_MAX_BULK_BYTES,
        backoff: Backoff | None = None,
        span_events: bool = True,
        dynamic_ids: bool | None = None,
        max_queued_batches: int = 8,
        start: bool = True,
        profile_namespace: str | None = None,
    ) -> None:
        settings = resolve_settings(url, api_key=api_key, username=username, password=password,
                                    cloud_id=cloud_id, ca_certs=ca_certs, verify_certs=verify_certs,
                                    headers=headers)
        self.timeout = _positive(timeout, ENV_TIMEOUT, _DEFAULT_TIMEOUT_S)
        spool_path = Path(spool_dir or os.environ.get(ENV_SPOOL_DIR) or _default_spool_dir(settings.urls))
        try:
            self.spool = Spool(spool_path, int(_positive(spool_max_bytes, ENV_SPOOL_MAX_BYTES,
                                                         _DEFAULT_SPOOL_MAX_BYTES)))
        except OSError as exc:
            raise ValueError(f"modelspan: spool directory {str(spool_path)!r} cannot be created ({exc})") from exc
        dead_path = dead_letter_path or os.environ.get(ENV_DEAD_LETTER) or spool_path.parent / "dead-letters.jsonl"
        self.counters = Counters(gauges=self.spool.size)
        self.dead_letters = DeadLetters(dead_path, dead_letter_max_bytes)
        self._transport = Transport(settings)
        self._delivery = Delivery(self._transport, self.dead_letters, self.counters, request_timeout=self.timeout,
                                  max_bulk_bytes=max_bulk_bytes, backoff=backoff or Backoff())
        self._span_events = span_events
        self.dynamic_ids = _flag(dynamic_ids, ENV_DYNAMIC_ID)
        self._closed = False
        self.profile_namespace = profile_namespace
        self._process = process_token()
        self._flushes = itertools.count()
        probe = backoff or Backoff(initial=0.5, maximum=10.0)
        self._sender = Sender(self._delivery, self.spool, self.counters, timeout=self.timeout,
                              max_queued=max_queued_batches, probe_backoff=probe)
        if start:
            self._sender.start_if_spooled()  # batches a previous process spooled
        _fork.register(self)

    @property
    def urls(self) -> tuple[str, ...]:
        return self._transport.settings.urls

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Hand ``spans`` to the sender (or the spool) without waiting on the network.

        Each document is encoded on its own: one that cannot be encoded is dead-lettered with the
        reason and counted (``unencodable``), and the rest of the batch is sent. FAILURE only when
        documents had to be dropped (spool or dead-letter file full) or after shutdown.
        """
        if self._closed:
            return SpanExportResult.FAILURE
        try:
            batch = _bulk.encode_spans(spans, span_events=self._span_events, dynamic_ids=self.dynamic_ids)
            self.counters.add("exported", len(spans))
            kept = True
            if batch.rejected:
                self.counters.add("unencodable", len(batch.rejected))
                kept = self._delivery.dead_letter(batch.rejected)
            if batch.items and not self._sender.submit(batch.items):
                kept = False
            return SpanExportResult.SUCCESS if kept else SpanExportResult.FAILURE
        except Exception:  # export() never raises (the SDK contract); the failure is counted
            self.counters.add("dropped", len(spans))
            for span in spans:
                count_lost(span.attributes)
            _log.exception("modelspan: exporting %d span(s) to Elasticsearch failed", len(spans))
            return SpanExportResult.FAILURE

    def export_profiles(self, profiles: Sequence[Any]) -> int:
        """Append one flush of profiles to ``metrics-modelspan.profile-<namespace>`` (docs/profiles.md).

        Same path as spans: the sender thread, retries, the spool while Elasticsearch is down, the
        dead-letter file for what can never be stored, and the same counters. The namespace is
        ``profile_namespace``, else the one ``modelspan.configure`` gives model spans, else ``default``.
        Returns the documents handed over; raises when they could not be kept (shut down, spool full),
        which ``modelspan.instrumentation._profiles`` counts and logs.
        """
        if self._closed:
            raise RuntimeError("the Elasticsearch exporter is shut down")
        from modelspan.instrumentation._config import STATE

        namespace = self.profile_namespace or STATE.namespace or layout.DEFAULT_NAMESPACE
        items, rejected = encode_profiles(profiles, namespace, self._process, next(self._flushes))
        self.counters.add("exported", len(items) + len(rejected))  # documents, as "stored" counts them
        kept = True
        if rejected:
            self.counters.add("unencodable", len(rejected))
            kept = self._delivery.dead_letter(rejected)
        if items and not self._sender.submit(items):
            kept = False
        if not kept:
            raise RuntimeError(f"{len(profiles)} profiles could not all be kept (see the exporter's stats())")
        return len(items)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Send what is queued and replay the spool; True when nothing is left waiting.

        While Elasticsearch is down this probes once and returns False: the spans are on disk.
        """
        if self._closed:
            return True
        return self._sender.flush(timeout_millis / 1000)

    def shutdown(self) -> None:
        """Send what is queued (up to the timeout), then stop; the spool stays on disk. Safe twice."""
        if self._closed:
            return
        self._closed = True
        self._sender.close(self.timeout)
        self._transport.close()

    @property
    def down(self) -> bool:
        """Whether the last attempt found Elasticsearch unreachable (batches go to the spool)."""
        return self._sender.down

    def stats(self) -> dict[str, int]:
        """Counts of what happened to documents, plus what waits in the spool.

        Keys: exported, stored, duplicates, retries, spooled, replayed, dead_lettered, unencodable,
        dropped, requests, request_errors, spool_bytes, spool_documents.
        """
        return self.counters.stats()

    def _after_fork(self) -> None:
        # a forked child (gunicorn preload) has no replayer thread and must not share sockets
        self._transport = Transport(self._transport.settings)
        self._delivery.transport = self._transport
        self._process = process_token()  # the child's profile documents are its own
        self._sender.after_fork()


def _flag(value: bool | None, env: str) -> bool:
    if value is not None:
        return bool(value)
    raw = os.environ.get(env, "").strip().lower()
    if raw in ("", "false", "0", "no"):
        return False
    if raw in ("true", "1", "yes"):
        return True
    _log.warning("modelspan: ignoring %s=%r (not true/false); using false", env, raw)
    return False


def _positive(value: float | int | None, env: str, default: float) -> float:
    if value is not None:
        if value <= 0:
            raise ValueError(f"modelspan: {env.lower()} must be positive, got {value!r}")
        return float(value)
    raw = os.environ.get(env, "").strip()
    if raw:
        try:
            parsed = float(raw)
            if parsed > 0:
                return parsed
        except ValueError:
            pass
        _log.warning("modelspan: ignoring %s=%r (not a positive number); using %s", env, raw, default)
    return default


def _default_spool_dir(urls: Sequence[str]) -> Path:
    # one spool per cluster and user, in the temp dir (survives a process restart, not a reboot)
    digest = hashlib.sha256(",".join(urls).encode()).hexdigest()[:12]
    user = getattr(os, "getuid", lambda: 0)()
    return Path(tempfile.gettempdir()) / f"modelspan-{user}" / f"spool-{digest}"
