"""``@modelspan.monitor``: one span per model call, with inputs, outputs, path and checks.

The decorated function's return value, exceptions and timing belong to the user
(docs/architecture.md, decision 6): monitoring runs before and after the call inside ``try/except``, failures are
counted (``modelspan.monitoring_errors()``, ``ml.monitoring.errors``) and logged once, and the
user's own exception is re-raised as the very same object. When monitoring is disabled the
wrapper is one flag test and a direct call.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from contextvars import Token
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace

from modelspan import semconv
from modelspan.instrumentation import (
    _call_profile,
    _config,
    _exceptions,
    _expected_loss,
    _expected_performance,
    _experiment,
    _outputs,
    _profiles,
    _rawcapture,
    _redaction,
)
from modelspan.instrumentation._checks import Quality, row_attributes
from modelspan.instrumentation._feature_profiles import CallSummary, summarise_input, summarise_output
from modelspan.instrumentation._health import record_error
from modelspan.instrumentation._module import CallRecord, current_call
from modelspan.instrumentation._prediction import Prediction, set_last, set_last_fields
from modelspan.instrumentation._row_fold import summarise_row
from modelspan.instrumentation._summaries import batch_attributes
from modelspan.profiling import _capture, _inputs

if TYPE_CHECKING:
    from modelspan.baseline import Baseline

F = TypeVar("F", bound=Callable[..., Any])
# Room kept for attributes set after the call (outputs, path, errors) under the span limit.
_RESERVED_ATTRIBUTES = 32
# Attributes a call's input can add besides its features: count and names per check, raw input.
_CHECK_ATTRIBUTES = 2 * len(semconv.CHECKS) + 1


@dataclass
class Spec:
    """Everything ``@monitor(...)`` was told, fixed at decoration time."""

    model: str
    version: str
    task: str | None
    classes: Sequence[str] | None
    features: Sequence[str] | None
    baseline: Baseline | None
    input_index: int | None
    input_name: str | None
    sample_rate: float | None
    span_name: str
    class_source: Any = None
    """A fitted model given as ``classes=``: its ``classes_`` name probability columns (read per call)."""
    method: bool = False
    """The decorated function is a method: ``self`` may be a model with ``classes_``."""
    # (namespace, rate, identity attributes without the prediction id): rebuilt when either changes.
    constant: tuple[str | None, float, dict[str, Any]] | None = field(default=None, compare=False, repr=False)


class Call:
    """One monitored call in flight."""

    __slots__ = ("baseline", "capture", "experiment", "otel_token", "outputs", "owner", "quality", "record",
                 "record_token", "room", "shaped", "span", "spec", "start_ns", "streamed", "summary")

    def __init__(self, spec: Spec, record: CallRecord) -> None:
        self.spec = spec
        self.record = record
        self.span: Any = None
        self.otel_token: Any = None
        self.record_token: Token[CallRecord | None] | None = None
        self.shaped: _inputs.Row | _inputs.Batch | None = None
        self.baseline: Baseline | None = None
        self.quality = Quality()
        self.capture = False
        self.room = 0
        self.start_ns = 0
        self.streamed = False  # a generator: the yielded items are the output rows
        self.owner: Any = None  # ``self`` of a decorated method
        self.experiment: _experiment.Scope | None = None
        self.summary: CallSummary | None = None  # what the call adds to its profile's features
        self.outputs: _outputs.Outputs | None = None

    def attach(self) -> None:
        self.otel_token = otel_context.attach(trace.set_span_in_context(self.span))
        self.record_token = current_call.set(self.record)

    def detach(self) -> None:
        if self.record_token is not None:
            try:
                current_call.reset(self.record_token)
            except ValueError:  # resumed in another context (generators): restore by value
                current_call.set(None)
            self.record_token = None
        if self.otel_token is not None:
            otel_context.detach(self.otel_token)
            self.otel_token = None


def _new_id() -> str:
    # 128 random bits, as OpenTelemetry's own id generator (random is re-seeded after fork);
    # to_bytes().hex() is about three times cheaper than a 032x format.
    return random.getrandbits(128).to_bytes(16, "big").hex()


def begin(spec: Spec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
    """Start the span of a call (inputs summarised); ``None`` if sampled out or on failure."""
    state = _config.STATE
    rate = spec.sample_rate if spec.sample_rate is not None else state.sample_rate
    capture = bool(_capture.ACTIVE) and any(
        c.wants(spec.model, spec.version) for c in _capture.ACTIVE
    )
    if rate < 1.0 and not capture and random.random() >= rate:
        set_last_fields((_new_id(), spec.model, spec.version, 1, False, False))  # Prediction's fields, unsampled
        return None
    prediction_id = _new_id()
    call = Call(spec, CallRecord(spec.model, spec.version, prediction_id))
    call.capture = capture
    if spec.method and args:
        call.owner = args[0]
    try:
        attributes = _identity(spec, prediction_id, rate, state.namespace)
        baseline = spec.baseline or state.baselines.get((spec.model, spec.version))
        call.baseline = baseline
        if baseline is not None:
            attributes[semconv.BASELINE_ID] = baseline.id
        _input_attributes(call, args, kwargs, attributes)
        # Root calls only: a model nested in the call serves the same arm, not an arm of its own.
        scope = call.experiment = _experiment.current.get() if current_call.get() is None else None
        if scope is not None:
            attributes.update(scope.attributes)
        call.start_ns = start_ns = time.time_ns()
        call.span = state.tracer.start_span(spec.span_name, attributes=attributes, start_time=start_ns,
                                            links=scope.links if scope is not None else None)
        if scope is not None and scope.on_start is not None:
            scope.on_start(call.span, prediction_id)
        call.room = state.attribute_limit - len(attributes)
        call.attach()
        return call
    except Exception as exc:
        record_error("monitor.begin", exc)
        _call_profile.begin_failed.set(True)  # counted once: the profile of this call reads nothing of it again
        _abandon(call)
        set_last(Prediction(call.record.prediction_id, spec.model, spec.version, sampled=False))
        return None


def _identity(spec: Spec, prediction_id: str, rate: float, namespace: str | None) -> dict[str, Any]:
    """The span's identity attributes: a copy of the spec's constant part plus the call's id."""
    constant = spec.constant
    if constant is None or constant[0] != namespace or constant[1] != rate:
        fixed: dict[str, Any] = {
            semconv.SPAN_KIND: semconv.SPAN_KIND_MODEL,
            semconv.MODEL_NAME: spec.model,
            semconv.MODEL_VERSION: spec.version,
            semconv.SAMPLE_RATE: rate,
            semconv.DATA_STREAM_DATASET: semconv.MODELSPAN_DATASET,
        }
        if namespace:
            fixed[semconv.DATA_STREAM_NAMESPACE] = namespace
        if spec.task:
            fixed[semconv.MODEL_TASK] = spec.task
        spec.constant = constant = (namespace, rate, fixed)
    attributes = constant[2].copy()
    attributes[semconv.PREDICTION_ID] = prediction_id
    return attributes


def _input_attributes(
    call: Call, args: tuple[Any, ...], kwargs: dict[str, Any], attributes: dict[str, Any]
) -> None:
    spec, state, quality = call.spec, _config.STATE, call.quality
    value = _call_profile.input_value(spec, args, kwargs)
    call.shaped = shaped = _call_profile.shape(spec, value, call.baseline, call.record)
    features: dict[str, Any] = {}
    written = features
    if type(shaped) is _inputs.Row:
        attributes[semconv.BATCH_SIZE] = 1
        values = shaped.values
        # At most two attributes per value (text), two per failed check, one raw input: when
        # that surely fits, the features go straight in (the bound below could drop nothing).
        if 2 * len(values) + _CHECK_ATTRIBUTES <= state.attribute_limit - _RESERVED_ATTRIBUTES - len(attributes):
            written = attributes
        # One pass feeds the span and the profile (_row_fold); other rows go the general way.
        call.summary = CallSummary()
        if not summarise_row(values, call.baseline, state.redaction, call.summary, quality, written):
            row_attributes(values, call.baseline, state.redaction, written, quality)
            summarise_input(shaped, call.baseline, state.redaction, call.summary, written, quality)
    else:
        if type(shaped) is _inputs.Batch:
            attributes[semconv.BATCH_SIZE] = shaped.size
            batch_attributes(shaped, call.baseline, state.redaction, features, quality)
        call.summary = CallSummary()
        summarise_input(shaped, call.baseline, state.redaction, call.summary, written, quality)
    if quality.counts:
        quality.write(attributes)
    if state.capture_inputs and value is not _call_profile.MISSING:
        attributes[semconv.INPUT_RAW] = _rawcapture.raw_input(value, shaped, state.redaction)
    room = state.attribute_limit - _RESERVED_ATTRIBUTES - len(attributes)
    if not features:
        return
    if len(features) <= room:
        attributes.update(features)
    else:
        _merge_bounded(attributes, features, room)


def _merge_bounded(attributes: dict[str, Any], extra: dict[str, Any], room: int) -> None:
    """Add ``extra`` while there is room; count what had to be left off."""
    if len(extra) <= room:
        attributes.update(extra)
        return
    kept = max(room, 0)
    for key in list(extra)[:kept]:
        attributes[key] = extra[key]
    attributes[semconv.ATTRIBUTES_DROPPED] = len(extra) - kept


def finish(call: Call, result: Any, error: BaseException | None, end_ns: int) -> None:
    """Record outputs (or the error), path and health on the span and end it. Never raises."""
    record = call.record
    try:
        call.detach()
        span = call.span
        if call.experiment is not None and call.experiment.on_finish is not None:
            call.room -= call.experiment.on_finish(span, result, error)
        if (
            type(result) is float and error is None and not record.path and not record.errors
            and not call.capture and call.room > 0 and call.spec.task is None and type(call.shaped) is _inputs.Row
            and record.secrets is None
        ):  # the commonest call, kept short: one row in, one finite or non-finite value out
            if span.is_recording():
                if math.isfinite(result):
                    span.set_attribute(semconv.OUTPUT_VALUE, result)
                    if call.baseline is not None and call.baseline.error_model is not None:
                        loss: dict[str, Any] = {}
                        _expected_loss.add(call.baseline.error_model, call.shaped, None, result, loss)
                        span.set_attributes(loss)
                if call.quality.counts:
                    _add_quality_events(call)
            return
        recording = span.is_recording()
        attributes: dict[str, Any] = {}
        if record.path:
            attributes[semconv.MODULE_PATH] = list(record.path)
            attributes[semconv.MODULE_PATH_KEY] = semconv.PATH_SEPARATOR.join(record.path)
            if record.truncated:
                attributes[semconv.MODULE_PATH_TRUNCATED] = True
        outputs = None
        if error is not None:
            if recording:
                _exceptions.record(span, error, record.secrets, _config.STATE.exception_messages)
        elif call.capture:
            outputs = _record_outputs(call, result, attributes)
            _feed_captures(call, outputs, end_ns)
        elif recording and not _plain_output(call, result, attributes):
            _record_outputs(call, result, attributes)
        if recording and error is None and call.baseline is not None and call.baseline.error_model is not None:
            _expected_loss.add(call.baseline.error_model, call.shaped, call.outputs, result, attributes)
        if recording and error is None and call.baseline is not None and type(call.shaped) is _inputs.Batch:
            _expected_performance.add_batch(call.baseline, call.outputs, attributes)  # a single row is a cell
        if record.secrets is not None:  # an output that is (or repeats) a redacted field
            _redaction.scrub_output(attributes, _config.STATE.redaction, record.secrets)
        if record.errors:
            attributes[semconv.MONITORING_ERRORS] = record.errors
        if recording:
            if len(attributes) == 1 and call.room > 0:  # the commonest case: just the output
                for key, value in attributes.items():
                    span.set_attribute(key, value)
            elif attributes:
                span.set_attributes(_bounded(attributes, call.room))
            if call.quality.counts:
                _add_quality_events(call)
    except Exception as exc:
        record_error("monitor.finish", exc)
    finally:
        _end(call, end_ns)
        _profiles.profile_call(call.spec, call.shaped, call.start_ns, end_ns, error is not None,
                               _output_summary(call, result, error))
        shaped = call.shaped
        if type(shaped) is _inputs.Batch:
            set_last_fields((record.prediction_id, record.model, record.version, shaped.size, True, True))
        else:
            set_last_fields((record.prediction_id, record.model, record.version))


def _output_summary(call: Call, result: Any, error: BaseException | None) -> CallSummary | None:
    """The call's profile summary, its output and path added (the input was summarised by ``begin``)."""
    summary = call.summary
    if summary is None:
        return None
    try:
        if error is not None:
            summary.path = tuple(call.record.path)
            return summary
        single = type(call.shaped) is not _inputs.Batch and not call.streamed
        outputs = call.outputs
        if outputs is None and call.streamed:
            rows = _inputs.Batch(len(result) if isinstance(result, list) else 0)
            outputs = _call_profile.plain_or_read(call.spec, result, False, rows, call.owner)
        elif outputs is None:
            outputs = _call_profile.plain_or_read(call.spec, result, single, call.shaped, call.owner)
        summarise_output(result, outputs, single, call.baseline, summary, call.record.path, _config.STATE.redaction,
                         call.record.secrets)
    except Exception as exc:
        record_error("monitor.profile", exc)
    return summary


def _plain_output(call: Call, result: Any, attributes: dict[str, Any]) -> bool:
    """Fast path for the commonest single-row outputs: a float value or a string label."""
    if call.streamed or type(call.shaped) is _inputs.Batch or call.spec.task is not None:
        return False
    kind = type(result)
    if kind is float:
        if math.isfinite(result):
            attributes[semconv.OUTPUT_VALUE] = result
        return True
    if kind is str:
        attributes[semconv.OUTPUT_LABEL] = result[: semconv.MAX_STRING_LENGTH]
        return True
    return False


def _record_outputs(call: Call, result: Any, attributes: dict[str, Any]) -> _outputs.Outputs:
    batch = call.shaped.size if isinstance(call.shaped, _inputs.Batch) else None
    if call.streamed:
        batch = len(result) if isinstance(result, list) else 0
    call.outputs = _outputs.Outputs()  # read once: a failure here is not met again by the profile
    try:
        outputs = _outputs.interpret(result, batch, call.spec.task, _classes(call))
    except _outputs.UnreadableOutput as exc:
        # Counted on the span and in monitoring_errors(), logged (with the full shape) once per kind.
        call.record.errors += 1
        record_error(f"monitor.output ({exc.kind})", exc)
        outputs = _outputs.Outputs()
    call.outputs = outputs
    quality = Quality()
    _outputs.output_attributes(outputs, batch is not None, call.baseline, attributes, quality)
    quality.write(attributes)
    return outputs


def _classes(call: Call) -> Sequence[str] | None:
    """Names of a probability output's columns: ``classes=``, else ``classes_`` of the model."""
    spec = call.spec
    if spec.classes is not None:
        return spec.classes
    source = spec.class_source if spec.class_source is not None else call.owner
    return _outputs.class_names(source) if _outputs.is_model(source) else None


def _feed_captures(call: Call, outputs: _outputs.Outputs | None, end_ns: int) -> None:
    latency_ms = (end_ns - call.start_ns) / 1e6
    keys = outputs.keys() if outputs is not None else ["*"]
    per_row = outputs.per_row() if outputs is not None else None
    for capture in list(_capture.ACTIVE):
        if capture.wants(call.spec.model, call.spec.version):
            capture.record(call.shaped, keys, per_row, call.record.path, latency_ms)


def _bounded(attributes: dict[str, Any], room: int) -> dict[str, Any]:
    if len(attributes) <= room:
        return attributes
    kept = dict(list(attributes.items())[: max(room - 1, 0)])
    kept[semconv.ATTRIBUTES_DROPPED] = len(attributes) - len(kept)
    return kept


def _add_quality_events(call: Call) -> None:
    quality = call.quality
    if not quality.counts:
        return
    for check, feature in quality.write({}):
        call.span.add_event(
            semconv.QUALITY_EVENT,
            {semconv.QUALITY_EVENT_CHECK: check, semconv.QUALITY_EVENT_FEATURE: feature},
        )


def _end(call: Call, end_ns: int) -> None:
    try:
        if call.span is not None:
            call.span.end(end_time=end_ns)
    except Exception as exc:
        record_error("monitor.end", exc)


def _abandon(call: Call) -> None:
    try:
        call.detach()
        if call.span is not None:
            call.span.end()
    except Exception as exc:
        record_error("monitor.abandon", exc)
